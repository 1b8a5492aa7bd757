/**
 * Signed audit evidence: a kept report is a DSSE envelope (secure-systems-lab/dsse, protocol v1)
 * over an in-toto Statement v1 whose subject is the released image (its target path and SHA-256)
 * and whose predicate is the audit report. Signed with the factory's Ed25519 audit key through
 * node:crypto; the release gate verifies it with the key the repository publishes as a signed target.
 */
import { createHash, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';

/** DSSE payload type of an in-toto statement. */
export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';
/** in-toto Statement v1 `_type`. */
export const IN_TOTO_STATEMENT_TYPE = 'https://in-toto.io/Statement/v1';
/** The predicate type of a Bulwark audit report. */
export const AUDIT_PREDICATE_TYPE = 'https://bulwark.dev/attestation/audit-report/v1';

/** A DSSE envelope (JSON serialisation). */
export interface DsseEnvelope {
  readonly payloadType: string;
  /** Base64 of the serialised body. */
  readonly payload: string;
  readonly signatures: ReadonlyArray<{ readonly keyid: string; readonly sig: string }>;
}

/** An in-toto Statement v1 with one subject. */
export interface AuditStatement {
  readonly _type: typeof IN_TOTO_STATEMENT_TYPE;
  readonly subject: ReadonlyArray<{ readonly name: string; readonly digest: { readonly sha256: string } }>;
  readonly predicateType: string;
  readonly predicate: unknown;
}

/**
 * DSSE v1 pre-authentication encoding: "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body, LEN the
 * byte length in ASCII decimal without leading zeros.
 */
export function preAuthEncoding(payloadType: string, body: Buffer): Buffer {
  const type = Buffer.from(payloadType, 'utf8');
  return Buffer.concat([
    Buffer.from(`DSSEv1 ${type.length} `, 'utf8'),
    type,
    Buffer.from(` ${body.length} `, 'utf8'),
    body,
  ]);
}

/** The key id of a public key: hex SHA-256 of its SPKI DER. */
export function auditKeyId(key: KeyObject | string): string {
  const pub = typeof key === 'string' ? createPublicKey(key) : createPublicKey(key);
  return createHash('sha256')
    .update(pub.export({ type: 'spki', format: 'der' }))
    .digest('hex');
}

/**
 * Signs `predicate` as an attestation about one image.
 * @example signAttestation(report, { name: 'plug/image.tar', sha256 }, privateKey)
 */
export function signAttestation(
  predicate: unknown,
  subject: { readonly name: string; readonly sha256: string },
  privateKey: KeyObject,
): DsseEnvelope {
  const statement: AuditStatement = {
    _type: IN_TOTO_STATEMENT_TYPE,
    subject: [{ name: subject.name, digest: { sha256: subject.sha256 } }],
    predicateType: AUDIT_PREDICATE_TYPE,
    predicate,
  };
  const body = Buffer.from(JSON.stringify(statement), 'utf8');
  const sig = sign(null, preAuthEncoding(IN_TOTO_PAYLOAD_TYPE, body), privateKey);
  return {
    payloadType: IN_TOTO_PAYLOAD_TYPE,
    payload: body.toString('base64'),
    signatures: [{ keyid: auditKeyId(privateKey), sig: sig.toString('base64') }],
  };
}

/** What {@link verifyAttestation} found: the statement, or why the envelope is refused. */
export type AttestationVerdict =
  | { readonly ok: true; readonly statement: AuditStatement }
  | { readonly ok: false; readonly reason: 'not-an-envelope' | 'bad-signature' | 'not-a-statement' | 'other-image' };

function isEnvelope(v: unknown): v is DsseEnvelope {
  const e = v as Partial<DsseEnvelope> | null;
  return (
    typeof e === 'object' &&
    e !== null &&
    typeof e.payloadType === 'string' &&
    typeof e.payload === 'string' &&
    Array.isArray(e.signatures) &&
    (e.signatures as unknown[]).every((s) => typeof (s as { sig?: unknown } | null)?.sig === 'string')
  );
}

function statementOf(body: Buffer): AuditStatement | undefined {
  let s: Partial<AuditStatement>;
  try {
    s = JSON.parse(body.toString('utf8')) as Partial<AuditStatement>;
  } catch {
    return undefined;
  }
  const ok =
    s?._type === IN_TOTO_STATEMENT_TYPE &&
    s.predicateType === AUDIT_PREDICATE_TYPE &&
    Array.isArray(s.subject) &&
    s.subject.length === 1 &&
    typeof (s.subject as unknown[])
      .map((x) => (x as { digest?: { sha256?: unknown } } | null)?.digest?.sha256)
      .at(0) === 'string';
  return ok ? (s as AuditStatement) : undefined;
}

/**
 * Verifies an envelope with the audit public key and that its one subject is the image `sha256`:
 * a plain report, a signature by another key or over other bytes, and another image are refused.
 */
export function verifyAttestation(value: unknown, publicKeyPem: string, sha256: string): AttestationVerdict {
  if (!isEnvelope(value)) return { ok: false, reason: 'not-an-envelope' };
  const body = Buffer.from(value.payload, 'base64');
  const pae = preAuthEncoding(value.payloadType, body);
  let key: KeyObject;
  try {
    key = createPublicKey(publicKeyPem);
  } catch {
    return { ok: false, reason: 'bad-signature' };
  }
  // Only the factory's kind of audit key: a key of another type verifies nothing.
  if (key.asymmetricKeyType !== 'ed25519') return { ok: false, reason: 'bad-signature' };
  const signed = value.signatures.some((s) => {
    try {
      return verify(null, pae, key, Buffer.from(s.sig, 'base64'));
    } catch {
      return false;
    }
  });
  if (!signed || value.payloadType !== IN_TOTO_PAYLOAD_TYPE) return { ok: false, reason: 'bad-signature' };
  const statement = statementOf(body);
  if (statement === undefined) return { ok: false, reason: 'not-a-statement' };
  if (statement.subject[0]!.digest.sha256 !== sha256) return { ok: false, reason: 'other-image' };
  return { ok: true, statement };
}
