// The part of @pushcorn/hocon-parser (CommonJS, untyped) that src/config/hocon.ts uses.
declare module '@pushcorn/hocon-parser' {
  interface HoconParseOptions {
    /** File to read; relative includes resolve against it. */
    readonly url?: string;
    readonly text?: string;
    /** Closer to the HOCON spec: `.3` stays a string, no `@` include shorthand. */
    readonly strict?: boolean;
    /** Whether substitutions fall back to process.env. */
    readonly env?: boolean;
    /** Looked up by substitutions before the environment. */
    readonly scope?: Readonly<Record<string, unknown>>;
    /** Fail when the source is missing instead of resolving to undefined. */
    readonly required?: boolean;
    /** Node builder for the top-level source (by default chosen from the file extension). */
    readonly builder?: string;
  }

  type AdapterClass = new (context: unknown, options: unknown) => object;

  interface HoconParser {
    (options: HoconParseOptions): Promise<unknown>;
    readonly SourceAdapter: AdapterClass;
    readonly BuilderAdapter: AdapterClass;
    readonly TransformAdapter: AdapterClass;
    /** Registers sources, builders and transforms under the name their class name gives (`EvalTransform` → `eval`). */
    registerComponent(...classes: AdapterClass[]): void;
  }

  const parser: HoconParser;
  export default parser;
}

declare module '@pushcorn/hocon-parser/lib/core/Tokenizer.js' {
  interface HoconToken {
    /** A Symbol whose description is the kind: VALUE, ASSIGN, OPEN_CURLY, NEWLINE, ... */
    readonly type: symbol;
    readonly value: string;
    readonly line: number;
    readonly col: number;
    readonly quoted: boolean;
  }

  export class Tokenizer {
    tokenize(text: string, strict: boolean): HoconToken[];
  }
}
