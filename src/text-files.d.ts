// Modules that are text files (src/commands/text-files.ts): the default export is the file's contents.
declare module '*.py' {
  const text: string;
  export default text;
}
