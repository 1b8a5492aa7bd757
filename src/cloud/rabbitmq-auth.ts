/**
 * The cloud's answers to RabbitMQ's HTTP auth backend (rabbitmq_auth_backend_http, 3.10), as pure
 * functions: a question (the form the backend POSTs to its user, vhost, resource or topic path) in,
 * a decision out. One rule for every client, the embedded broker's rule (src/cloudprotocol's
 * `mayPublish` / `maySubscribe`), with the identity taken from the certificate alone:
 *
 * - the user name is the certificate's CN (`ssl_cert_login_from = common_name`), a serial or a cloud
 *   instance's name; any login that carries a password is refused, because in 3.10 a user name and
 *   password in CONNECT take precedence over the certificate (a device certificate plus guest/guest
 *   logged in as guest);
 * - the MQTT client id must equal the CN: 3.10 sends it with every vhost, resource and topic question
 *   (`client_id`, or `variable_map.client_id` on topic questions), so a wrong one is refused at the
 *   vhost question, before the MQTT plugin registers the id and could displace the device holding it;
 * - topics: RabbitMQ turns an MQTT topic into a routing key (`/` to `.`, `+` to `*`), turned back here
 *   and judged by the shared rule; a device's own session queues (`mqtt-subscription-<id>qos0|1`), and
 *   the cloud instances' queues under a prefix, are the only queues anyone may use;
 * - a revoked identity is refused at every question (the answers are never cached).
 *
 * What the backend never sends is the certificate itself: a revocation of one certificate by its
 * fingerprint cannot be judged here (the broker's CRL does that), and neither can a birth certificate
 * be told from an operational one with the same CN (docs/rabbitmq.md).
 */
import { identityFromCommonName, mayPublish, maySubscribe, type MqttIdentity } from '../cloudprotocol/index.ts';
import { formatSource, type JournalRecordInput } from '../journal/index.ts';
import { CloudConfigError } from './errors.ts';
import { quoteClientId } from './broker-connections.ts';

/** The backend's four questions, by the path each is POSTed to. */
export const RABBITMQ_AUTH_KINDS = ['user', 'vhost', 'resource', 'topic'] as const;
/** One of {@link RABBITMQ_AUTH_KINDS}. */
export type RabbitmqAuthKind = (typeof RABBITMQ_AUTH_KINDS)[number];

/** The permissions RabbitMQ asks about. */
export const RABBITMQ_PERMISSIONS = ['configure', 'write', 'read'] as const;
/** One of {@link RABBITMQ_PERMISSIONS}. */
export type RabbitmqPermission = (typeof RABBITMQ_PERMISSIONS)[number];

/** Longest field value accepted, characters (RabbitMQ's names and routing keys are at most 255 bytes). */
export const MAX_RABBITMQ_FIELD_CHARS = 1_024;

/**
 * A question, parsed. A password is never kept: only whether one came (`passwordPresent`).
 * `clientId` is the MQTT client id, absent on an AMQP connection and on a certificate login.
 */
export interface RabbitmqQuestion {
  readonly kind: RabbitmqAuthKind;
  readonly username: string;
  readonly passwordPresent: boolean;
  readonly vhost?: string;
  readonly clientId?: string;
  /** The client's address (vhost questions only). */
  readonly ip?: string;
  readonly resource?: 'queue' | 'exchange' | 'topic';
  readonly name?: string;
  readonly permission?: RabbitmqPermission;
  readonly routingKey?: string;
}

/** What RabbitMQ is allowed to let through: the virtual host, the MQTT exchange and the cloud's queues. */
export interface RabbitmqAuthPolicy {
  /** The only virtual host (`mqtt.vhost`). */
  readonly vhost: string;
  /** The only exchange (`mqtt.exchange`): MQTT topics are its routing keys. */
  readonly exchange: string;
  /** Queues the cloud instances may declare, bind and consume (AMQP consumers), by name prefix. */
  readonly serviceQueuePrefix: string;
}

/** The secure default: RabbitMQ's MQTT defaults, and the cloud's queues under `bulwark.`. */
export const defaultRabbitmqAuthPolicy: Readonly<RabbitmqAuthPolicy> = Object.freeze({
  vhost: '/',
  exchange: 'amq.topic',
  serviceQueuePrefix: 'bulwark.',
});

/** A name RabbitMQ accepts and no wildcard or prefix trick can widen. */
const POLICY_NAME = /^[A-Za-z0-9/._-]{1,64}$/;

/** Validates a (partial) policy; the service prefix must end in `.` so it can never equal a device's queue. */
export function validateRabbitmqAuthPolicy(policy: Partial<RabbitmqAuthPolicy> = {}): RabbitmqAuthPolicy {
  const p = { ...defaultRabbitmqAuthPolicy, ...policy };
  for (const key of ['vhost', 'exchange', 'serviceQueuePrefix'] as const)
    if (typeof p[key] !== 'string' || !POLICY_NAME.test(p[key]))
      throw new CloudConfigError(key, 'must be 1 to 64 letters, digits, or / . _ -');
  if (!p.serviceQueuePrefix.endsWith('.') || p.serviceQueuePrefix.startsWith('mqtt-'))
    throw new CloudConfigError('serviceQueuePrefix', "must end in '.' and not start with 'mqtt-'");
  return Object.freeze(p);
}

/** Why a question was refused: a stable code for counters and tests, and words for the journal. */
export type RabbitmqRefusal =
  | 'malformed'
  | 'password-login'
  | 'unknown-identity'
  | 'revoked'
  | 'client-id-mismatch'
  | 'vhost-denied'
  | 'resource-denied'
  | 'publish-denied'
  | 'subscribe-denied';

/** A decision: allowed, or refused with the code and the reason (never with a secret in it). */
export type RabbitmqDecision =
  { readonly allow: true } | { readonly allow: false; readonly refusal: RabbitmqRefusal; readonly reason: string };

/** Says why the identity with this CN is revoked, or undefined: the cloud's revocation store, in memory. */
export type RevokedCommonName = (commonName: string) => string | undefined;

/** A question the parser could not read, with what was wrong (a field name, never its value). */
export type ParsedRabbitmqQuestion =
  { readonly ok: true; readonly question: RabbitmqQuestion } | { readonly ok: false; readonly reason: string };

const REQUIRED: Record<RabbitmqAuthKind, readonly string[]> = {
  user: ['username'],
  vhost: ['username', 'vhost'],
  resource: ['username', 'vhost', 'resource', 'name', 'permission'],
  topic: ['username', 'vhost', 'resource', 'name', 'permission', 'routing_key'],
};

/** Reads the fields a question may have; each at most once and within bounds. */
function readFields(form: URLSearchParams): Map<string, string> | string {
  const fields = new Map<string, string>();
  for (const [key, value] of form) {
    if (fields.has(key)) return `field ${key} given twice`;
    if (value.length > MAX_RABBITMQ_FIELD_CHARS) return `field ${key} too long`;
    fields.set(key, value);
  }
  return fields;
}

/** The client id of a question: `client_id` or `variable_map.client_id` (topic), which must agree. */
function clientIdOf(fields: Map<string, string>): string | undefined | false {
  const top = fields.get('client_id');
  const mapped = fields.get('variable_map.client_id');
  if (top !== undefined && mapped !== undefined && top !== mapped) return false;
  return top ?? mapped;
}

/**
 * Parses the form RabbitMQ POSTs for `kind`. Unknown fields (tags, variable_map.username, ...) are
 * ignored; a password's value is dropped here and goes no further.
 */
export function parseRabbitmqQuestion(kind: RabbitmqAuthKind, form: URLSearchParams): ParsedRabbitmqQuestion {
  const fields = readFields(form);
  if (typeof fields === 'string') return { ok: false, reason: fields };
  for (const key of REQUIRED[kind]) if (!fields.has(key)) return { ok: false, reason: `field ${key} missing` };
  const clientId = clientIdOf(fields);
  if (clientId === false) return { ok: false, reason: 'client_id and variable_map.client_id differ' };
  const resource = fields.get('resource');
  if (resource !== undefined && resource !== 'queue' && resource !== 'exchange' && resource !== 'topic')
    return { ok: false, reason: 'field resource unknown' };
  const permission = fields.get('permission');
  if (permission !== undefined && !(RABBITMQ_PERMISSIONS as readonly string[]).includes(permission))
    return { ok: false, reason: 'field permission unknown' };
  const optional = (key: string, as: string): Record<string, string> => {
    const v = fields.get(key);
    return v === undefined ? {} : { [as]: v };
  };
  const question: RabbitmqQuestion = {
    kind,
    username: fields.get('username')!,
    passwordPresent: fields.has('password'),
    ...optional('vhost', 'vhost'),
    ...(clientId === undefined ? {} : { clientId }),
    ...optional('ip', 'ip'),
    ...(resource === undefined ? {} : { resource }),
    ...optional('name', 'name'),
    ...(permission === undefined ? {} : { permission: permission as RabbitmqPermission }),
    ...optional('routing_key', 'routingKey'),
  };
  return { ok: true, question };
}

/** The queues RabbitMQ's MQTT plugin (3.10) keeps for a client id's QoS 0 and QoS 1 subscriptions. */
export function mqttSessionQueues(clientId: string): readonly [string, string] {
  return [`mqtt-subscription-${clientId}qos0`, `mqtt-subscription-${clientId}qos1`];
}

/**
 * The MQTT topic or filter a routing key came from: RabbitMQ's MQTT plugin writes `/` as `.` and
 * `+` as `*` (and keeps `#`). A routing key with a `/` came from a topic with a `.` in it, which is
 * no device topic: undefined. The result is judged by the MQTT rule, so an AMQP wildcard (`*`, `#`)
 * is judged as the MQTT wildcard it matches like, whether the client typed `+` or a literal `*`.
 */
export function topicOfRoutingKey(routingKey: string): string | undefined {
  if (routingKey.includes('/')) return undefined;
  return routingKey.replaceAll('*', '+').replaceAll('.', '/');
}

const refuse = (refusal: RabbitmqRefusal, reason: string): RabbitmqDecision => ({ allow: false, refusal, reason });
const ALLOW: RabbitmqDecision = Object.freeze({ allow: true });

/** The checks every question passes: the identity, its revocation, the vhost and the client id. */
function checkIdentity(
  q: RabbitmqQuestion,
  policy: RabbitmqAuthPolicy,
  revoked: RevokedCommonName,
): { who: MqttIdentity } | RabbitmqDecision {
  // The password is judged first: with one, the user name is whatever the client typed, not a certificate's.
  if (q.passwordPresent)
    return refuse('password-login', 'a login with a password is refused: the client certificate is the identity');
  const who = identityFromCommonName(q.username);
  if (who === undefined)
    return refuse('unknown-identity', 'the certificate CN is neither a serial nor a cloud instance');
  const why = revoked(q.username);
  if (why !== undefined) return refuse('revoked', why);
  if (q.kind === 'user') return { who };
  if (q.vhost !== policy.vhost) return refuse('vhost-denied', 'not the virtual host of the device broker');
  if (q.clientId === undefined) {
    // Only MQTT connections have a client id; devices connect over MQTT only, the cloud also over AMQP.
    if (who.kind === 'device') return refuse('client-id-mismatch', 'a device connects over MQTT, with a client id');
  } else if (q.clientId !== q.username) {
    return refuse('client-id-mismatch', `client id ${quoteClientId(q.clientId)} is not the certificate CN`);
  }
  return { who };
}

/** Queues and exchanges: the MQTT exchange, the identity's own session queues, the cloud's prefixed queues. */
function decideResource(q: RabbitmqQuestion, who: MqttIdentity, policy: RabbitmqAuthPolicy): RabbitmqDecision {
  const name = q.name ?? '';
  if (q.resource === 'exchange') {
    // Publishing (write) and binding (read) on the MQTT exchange; the topic question judges the routing key.
    if (name === policy.exchange && q.permission !== 'configure') return ALLOW;
    return refuse('resource-denied', `${q.permission ?? '?'} on exchange ${quoteClientId(name)} is not allowed`);
  }
  if (q.resource === 'queue') {
    if ((mqttSessionQueues(q.username) as readonly string[]).includes(name)) return ALLOW;
    if (
      who.kind === 'service' &&
      name.startsWith(policy.serviceQueuePrefix) &&
      name.length > policy.serviceQueuePrefix.length
    )
      return ALLOW;
  }
  return refuse(
    'resource-denied',
    `${q.permission ?? '?'} on ${q.resource ?? '?'} ${quoteClientId(name)} is not allowed`,
  );
}

/** A routing key on the MQTT exchange, judged by the shared MQTT rule. */
function decideTopic(q: RabbitmqQuestion, who: MqttIdentity, policy: RabbitmqAuthPolicy): RabbitmqDecision {
  const key = q.routingKey ?? '';
  const topic = q.name === policy.exchange ? topicOfRoutingKey(key) : undefined;
  if (q.permission === 'write') {
    if (topic !== undefined && mayPublish(who, topic)) return ALLOW;
    return refuse('publish-denied', `publish on ${quoteClientId(key)} is not allowed`);
  }
  if (q.permission === 'read' && topic !== undefined && maySubscribe(who, topic)) return ALLOW;
  return refuse('subscribe-denied', `subscription to ${quoteClientId(key)} is not allowed`);
}

/**
 * The decision on one question. `revoked` is asked every time: nothing here is cached, so a
 * revocation holds from the next question on.
 *
 * @example
 * const parsed = parseRabbitmqQuestion('topic', new URLSearchParams(body));
 * const d = parsed.ok ? decideRabbitmqQuestion(parsed.question, policy, revoked) : undefined;
 * res.end(d?.allow ? 'allow' : 'deny');
 */
export function decideRabbitmqQuestion(
  q: RabbitmqQuestion,
  policy: RabbitmqAuthPolicy,
  revoked: RevokedCommonName,
): RabbitmqDecision {
  const checked = checkIdentity(q, policy, revoked);
  if (!('who' in checked)) return checked;
  if (q.kind === 'user' || q.kind === 'vhost') return ALLOW;
  if (q.kind === 'resource') return decideResource(q, checked.who, policy);
  return decideTopic(q, checked.who, policy);
}

/** The body of the answer: `allow` (no tags: no client gets management rights) or `deny`. */
export function rabbitmqAnswer(decision: RabbitmqDecision): 'allow' | 'deny' {
  return decision.allow ? 'allow' : 'deny';
}

/**
 * The journal entry of a refusal. The identity is the CN when it is one (a serial or a cloud
 * instance); a user name typed with a password is never written (people type passwords there).
 */
export function rabbitmqRefusalEntry(
  kind: RabbitmqAuthKind,
  question: Pick<RabbitmqQuestion, 'username' | 'ip'> | undefined,
  refusal: { readonly refusal: RabbitmqRefusal; readonly reason: string },
): JournalRecordInput {
  const cn = question?.username;
  const identity = cn !== undefined && identityFromCommonName(cn) !== undefined ? cn : '(unknown)';
  return {
    surface: 'cloud',
    source: formatSource(question?.ip),
    event: `rabbitmq-${kind}`,
    identity,
    result: 'refused',
    detail: `${refusal.refusal}: ${refusal.reason}`,
  };
}
