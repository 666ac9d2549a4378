import { expect, it } from 'vitest';
import './broken-module';

it('never collected', () => expect(1).toBe(1));
