import { expect, it } from 'vitest';

it('passes', () => expect(1).toBe(1));
it('passes too', () => expect(2).toBe(2));
it.skip('is skipped on purpose', () => expect(1).toBe(2));
it('skips itself on purpose', (ctx) => {
  ctx.skip('not applicable here');
});
