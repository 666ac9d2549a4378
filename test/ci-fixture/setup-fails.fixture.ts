import { beforeAll, describe, expect, it } from 'vitest';

describe('a suite whose setup fails', () => {
  beforeAll(() => {
    throw new Error('broken setup');
  });
  it('one', () => expect(1).toBe(1));
  it('two', () => expect(2).toBe(2));
  it('three', () => expect(3).toBe(3));
});
