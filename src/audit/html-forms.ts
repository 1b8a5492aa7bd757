/**
 * Just enough HTML reading to drive a login form: the forms of a page, their inputs and
 * hidden fields. Bounded (forms, inputs, attribute lengths); a page the auditor cannot read is
 * simply one whose login it does not drive.
 */

/** One input of a form. */
export interface FormInput {
  readonly name: string;
  readonly type: string;
  readonly value: string;
}

/** One form of a page. */
export interface HtmlForm {
  readonly method: string;
  /** The action as written ('' = the page itself). */
  readonly action: string;
  readonly inputs: readonly FormInput[];
}

const MAX_FORMS = 8;
const MAX_INPUTS = 32;
const MAX_ATTR_CHARS = 2_048;

/** Decodes the character references forms use in attribute values. */
export function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]{1,6}|#\d{1,7}|amp|lt|gt|quot|apos|#39);/gi, (_m, ref: string) => {
    const r = ref.toLowerCase();
    if (r === 'amp') return '&';
    if (r === 'lt') return '<';
    if (r === 'gt') return '>';
    if (r === 'quot') return '"';
    if (r === 'apos' || r === '#39') return "'";
    const code = r.startsWith('#x') ? parseInt(r.slice(2), 16) : parseInt(r.slice(1), 10);
    return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : '';
  });
}

function attributes(tag: string): Map<string, string> {
  const out = new Map<string, string>();
  const re = /([a-zA-Z_:][-a-zA-Z0-9_:.]*)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?/g;
  let m: RegExpExecArray | null;
  let n = 0;
  while ((m = re.exec(tag)) !== null && n++ < 64) {
    const name = m[1]!.toLowerCase();
    if (out.has(name)) continue;
    out.set(name, decodeEntities((m[2] ?? m[3] ?? m[4] ?? '').slice(0, MAX_ATTR_CHARS)));
  }
  return out;
}

/** The forms of a page, in document order. */
export function parseForms(html: string): HtmlForm[] {
  const forms: HtmlForm[] = [];
  const formRe = /<form\b([^>]*)>([\s\S]*?)<\/form\s*>/gi;
  let m: RegExpExecArray | null;
  while ((m = formRe.exec(html)) !== null && forms.length < MAX_FORMS) {
    const a = attributes(m[1]!);
    const inputs: FormInput[] = [];
    const inputRe = /<(input|button)\b([^>]*)>/gi;
    let i: RegExpExecArray | null;
    while ((i = inputRe.exec(m[2]!)) !== null && inputs.length < MAX_INPUTS) {
      const ia = attributes(i[2]!);
      const name = ia.get('name');
      if (name === undefined || name === '') continue;
      const type = (ia.get('type') ?? (i[1]!.toLowerCase() === 'button' ? 'submit' : 'text')).toLowerCase();
      inputs.push({ name, type, value: ia.get('value') ?? '' });
    }
    forms.push({ method: (a.get('method') ?? 'get').toLowerCase(), action: a.get('action') ?? '', inputs });
  }
  return forms;
}

/** The first form with a password field, posted: the login form. */
export function findLoginForm(html: string): HtmlForm | undefined {
  return parseForms(html).find((f) => f.method === 'post' && f.inputs.some((i) => i.type === 'password'));
}

/** True when the page asks for a password (a login page). */
export function hasPasswordField(html: string): boolean {
  return /<input\b[^>]*type\s*=\s*["']?password/i.test(html);
}
