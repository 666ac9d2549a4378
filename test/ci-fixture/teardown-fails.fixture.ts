import { afterAll, describe, expect, it } from 'vitest';

describe('a suite whose teardown fails', () => {
  afterAll(() => {
    throw new Error('broken teardown');
  });
  it('passes', () => expect(1).toBe(1));
});
