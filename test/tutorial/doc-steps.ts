// A tutorial's steps, read from its Markdown: the commands of its ```sh blocks, and the files its
// ```json file=NAME (or yaml) blocks ask the reader to save. A command line is split into argv here,
// with a shell's simple quoting only ('...', "...", $VAR and ${VAR}, a final `> file` and ` &`),
// so the test runs exactly the words the reader types, and never through a shell.

/** One part of a word: its text, and whether $VAR in it is expanded (not inside '...'). */
export interface WordPart {
  readonly text: string;
  readonly expand: boolean;
}
export type Word = readonly WordPart[];

interface At {
  /** The line of the Markdown file the step starts on (1-based), for messages. */
  readonly line: number;
}
export type Step = At &
  (
    | { readonly kind: 'file'; readonly name: string; readonly text: string }
    | { readonly kind: 'assign'; readonly name: string; readonly value: string }
    | {
        readonly kind: 'run';
        readonly text: string;
        readonly words: readonly Word[];
        readonly stdoutTo?: Word;
        readonly background: boolean;
        readonly exitCode: number;
      }
  );

const FENCE = /^```(\S*)(?:\s+file=(\S+))?\s*$/;
const ASSIGN = /^([A-Z_][A-Z0-9_]*)=(\S*)$/;
const VARIABLE = /\$(?:\{([A-Z_][A-Z0-9_]*)\}|([A-Z_][A-Z0-9_]*))/g;

/** Every step of `markdown` in document order: files to write, variables to set, commands to run. */
export function docSteps(markdown: string): Step[] {
  const lines = markdown.split('\n');
  const steps: Step[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE.exec(lines[i]!);
    if (!open) continue;
    const start = i + 1;
    let end = start;
    while (end < lines.length && lines[end] !== '```') end++;
    if (end === lines.length) throw new Error(`line ${i + 1}: a fence that does not close`);
    const body = lines.slice(start, end);
    if (open[2]) steps.push({ kind: 'file', name: open[2], text: body.join('\n') + '\n', line: start });
    else if (open[1] === 'sh') body.forEach((l, k) => pushCommand(steps, l, start + k + 1));
    i = end;
  }
  return steps;
}

function pushCommand(steps: Step[], raw: string, line: number): void {
  const { code, exitCode } = splitComment(raw);
  if (code.trim() === '') return;
  const assign = ASSIGN.exec(code.trim());
  if (assign) {
    steps.push({ kind: 'assign', name: assign[1]!, value: assign[2]!, line });
    return;
  }
  const background = / &$/.test(code.trimEnd());
  const words = splitWords(background ? code.trimEnd().slice(0, -2) : code, line);
  const redirect = words.findIndex((w) => w.length === 1 && w[0]!.expand && w[0]!.text === '>');
  if (redirect !== -1 && redirect !== words.length - 2) throw new Error(`line ${line}: '>' must come last, once`);
  steps.push({
    kind: 'run',
    text: code.trim(),
    words: redirect === -1 ? words : words.slice(0, redirect),
    ...(redirect === -1 ? {} : { stdoutTo: words[redirect + 1]! }),
    background,
    exitCode,
    line,
  });
}

/** The command without its `# comment`; a comment `# exit N` states the exit code the command ends with. */
function splitComment(raw: string): { code: string; exitCode: number } {
  let quote = '';
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (quote) {
      if (c === quote) quote = '';
    } else if (c === "'" || c === '"') quote = c;
    else if (c === '#' && (i === 0 || raw[i - 1] === ' ')) {
      const exit = /^#\s*exit (\d+)\s*$/.exec(raw.slice(i));
      return { code: raw.slice(0, i), exitCode: exit ? Number(exit[1]) : 0 };
    }
  }
  return { code: raw, exitCode: 0 };
}

/** Splits a command line into words as a shell would for '...' and "..." quotes; anything subtler is refused. */
export function splitWords(text: string, line = 0): Word[] {
  // Inside "...", a glob, pipe or brace is plain text (a URL's `?`); an escape or a substitution is not.
  const unquoted = text
    .replace(/\$\{[A-Z_][A-Z0-9_]*\}/g, '')
    .replace(/'[^']*'/g, "''")
    .replace(/"[^"]*"/g, (q) => q.replace(/[|;<){}*?&]|(?<!\$)\(/g, ''));
  if (/[\\`|;<(){}*?]|&&|\$\(/.test(unquoted)) {
    throw new Error(`line ${line}: needs a shell (escapes, pipes, globs or substitutions): ${text}`);
  }
  const words: Word[] = [];
  let word: WordPart[] | undefined;
  const re = /'([^']*)'|"([^"]*)"|(\s+)|([^'"\s]+)/y;
  let consumed = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    consumed = re.lastIndex;
    if (m[3] !== undefined) {
      if (word) words.push(word);
      word = undefined;
      continue;
    }
    word ??= [];
    word.push({ text: m[1] ?? m[2] ?? m[4]!, expand: m[1] === undefined });
  }
  if (consumed !== text.length) throw new Error(`line ${line}: an unclosed quote: ${text}`);
  if (word) words.push(word);
  return words;
}

/** The word with each $VAR replaced from `vars`; a variable the tutorial has not set yet is an error. */
export function expandWord(word: Word, vars: ReadonlyMap<string, string>): string {
  return word
    .map((p) =>
      p.expand
        ? p.text.replace(VARIABLE, (_, braced: string | undefined, bare: string | undefined) => {
            const name = (braced ?? bare)!;
            const value = vars.get(name);
            if (value === undefined) throw new Error(`$${name} is used before the tutorial sets it`);
            return value;
          })
        : p.text,
    )
    .join('');
}
