import { expect, it } from 'vitest';

it('passes, but leaves an unhandled rejection behind', async () => {
  void Promise.reject(new Error('unhandled rejection'));
  await new Promise((r) => setTimeout(r, 50));
  expect(1).toBe(1);
});
