// Fails on import: import-fails.fixture.ts imports it.
throw new Error('broken import');
