/**
 * The hub owner's People routes (page, forms and the JSON list: add someone, change their role,
 * remove them behind the owner's password again, clear one person's login back-off) and the route
 * table that journals every state change with the name of who made it.
 */
import {
  FIRST_OWNER_NAME,
  PasswordPolicyError,
  UserError,
  addUser,
  changeUserRole,
  checkPasswordStrength,
  hashPassword,
  normaliseUserName,
  parseUserExpiry,
  parseUserRole,
  removeUser,
  type SessionStore,
  type SignedInUser,
  peopleOf,
} from '../auth/index.ts';
import {
  Router,
  loadPeoplePages,
  requiredField,
  type PersonView,
  type Route,
  type SurfaceEvent,
  type WebRequest,
  type WebResponse,
} from '../web/index.ts';
import type { HubOwnerLogin } from './web-login.ts';
import type { HubAccount, HubUsers } from './users.ts';
import { hubPage } from './web-pages.ts';

/** What the People routes need of the hub's page. */
export interface HubPeopleSite {
  readonly users: HubUsers;
  readonly login: HubOwnerLogin;
  readonly sessions: SessionStore;
  saveSessions(): void;
  /** The removal passed on to every connected paired device (their own pages' people of that name). */
  revokeOnDevices(name: string): Promise<{ removed: string[]; unreachable: string[] }>;
}

/** What a hub route's handler knows of the caller. */
interface PeopleCtx {
  session?: { readonly csrfToken: string };
  user?: HubAccount;
}

type Recorder = (req: WebRequest, e: SurfaceEvent) => void;

/**
 * A request as the journal keeps it: its method and path in words ("POST devices PLG-1 call power
 * on"); a path in one piece can look like a token to the journal's redaction, which would hide it.
 */
export function requestInWords(req: Pick<WebRequest, 'method' | 'path'>): string {
  return `${req.method} ${req.path.split('/').filter(Boolean).join(' ')}`;
}

function statusOf(r: WebResponse): number {
  return r.kind === 'redirect' ? 303 : (r.status ?? 200);
}

/**
 * A route table that journals every state change a signed-in person makes (`control`, with their
 * name, the request and whether it worked), so the hub's journal shows who did what.
 */
export class JournalledRouter<Ctx extends { user?: SignedInUser }> extends Router<Ctx> {
  readonly #record: Recorder;

  constructor(record: Recorder) {
    super();
    this.#record = record;
  }

  override add(route: Route<Ctx>): this {
    if (route.access !== 'session' || route.method !== 'POST' || route.path === '/logout') return super.add(route);
    const handler = async (req: WebRequest, ctx: Ctx): Promise<WebResponse> => {
      const entry = { event: 'control', identity: ctx.user?.name, detail: requestInWords(req) };
      try {
        const answer = await route.handler(req, ctx);
        this.#record(req, { ...entry, result: statusOf(answer) < 400 ? 'success' : 'failure' });
        return answer;
      } catch (err) {
        this.#record(req, { ...entry, result: 'failure' });
        throw err;
      }
    };
    return super.add({ ...route, handler });
  }
}

function people(site: HubPeopleSite): PersonView[] {
  return peopleOf(site.users.list);
}

type PageMessages = { error?: string; notice?: string; reasons?: readonly string[] };

async function peopleHtml(site: HubPeopleSite, ctx: PeopleCtx, status: number, o: PageMessages = {}) {
  const csrf = ctx.session!.csrfToken;
  const { peopleBody } = await loadPeoplePages();
  return { kind: 'html', status, body: hubPage('People', peopleBody(csrf, people(site), o), csrf, ctx.user) } as const;
}

function done(req: WebRequest, notice: string, body: Record<string, unknown>): WebResponse {
  if (req.wantsJson) return { kind: 'json', body: { ok: true, ...body } };
  return { kind: 'redirect', location: '/people', notice };
}

async function addPerson(site: HubPeopleSite, req: WebRequest, ctx: PeopleCtx): Promise<WebResponse> {
  const name = normaliseUserName(requiredField(req.body.name, 'name', 32));
  const role = parseUserRole(req.body.role);
  const password = requiredField(req.body.password, 'password', 256);
  const expiresAt = parseUserExpiry(req.body.expiresOn, role, Date.now());
  const strength = await checkPasswordStrength(password, { userInputs: ['bulwark', 'hub', name] });
  if (!strength.ok) {
    if (req.wantsJson) throw new PasswordPolicyError(strength.reasons);
    const reasons = strength.reasons.map((r) => r.message);
    return peopleHtml(site, ctx, 422, { error: `That password for ${name} is not accepted:`, reasons });
  }
  const added = { name, role, passwordHash: await hashPassword(password), ...(expiresAt ? { expiresAt } : {}) };
  site.users.save(addUser(site.users.list, added, [FIRST_OWNER_NAME], Date.now()));
  return done(req, `${name} added as ${role}`, { name, role });
}

function changeRole(site: HubPeopleSite, req: WebRequest, name: string): WebResponse {
  const role = parseUserRole(req.body.role);
  const expiresAt = parseUserExpiry(req.body.expiresOn, role, Date.now());
  if (name.toLowerCase() === FIRST_OWNER_NAME) {
    throw new UserError('USER_FIRST_OWNER', "the first owner's role cannot change");
  }
  site.users.save(changeUserRole(site.users.list, name, role, expiresAt));
  return done(req, `${name} is now ${role}`, { name, role });
}

/**
 * Removes the added person `name` from the hub's people and ends every session of theirs; returns the sessions ended.
 * Their device cookies were bound to the id made when they were added: void with the record.
 */
export function removeHubPerson(
  site: Pick<HubPeopleSite, 'users' | 'sessions' | 'saveSessions'>,
  name: string,
): number {
  site.users.save(removeUser(site.users.list, name));
  const ended = site.sessions.destroyAllFor(name);
  site.saveSessions();
  return ended;
}

async function removePerson(site: HubPeopleSite, req: WebRequest, ctx: PeopleCtx, name: string) {
  const who = site.users.accountOf(name);
  if (!who) throw new UserError('USER_UNKNOWN', `there is nobody called ${name.slice(0, 32)}`);
  if (!who.added) throw new UserError('USER_FIRST_OWNER', 'the first owner cannot be removed');
  const checked = await site.login.check(req, requiredField(req.body.password, 'password', 256), ctx.user);
  if (!checked.ok) {
    const csrf = ctx.session!.csrfToken;
    const { removePersonBody } = await loadPeoplePages();
    const body = hubPage('Remove', removePersonBody(csrf, who.name, 'Your password is wrong.'), csrf, ctx.user);
    return { kind: 'html', status: 401, body } as const;
  }
  const ended = removeHubPerson(site, who.name);
  // The same person on the devices' own pages: removed there too, over each pinned channel.
  const devices = await site.revokeOnDevices(who.name);
  const notice =
    `${who.name} removed; signed out here and on ${devices.removed.length} device(s)` +
    (devices.unreachable.length ? `; not reached: ${devices.unreachable.join(', ')}` : '');
  return done(req, notice, { name: who.name, sessionsEnded: ended, devices });
}

async function orPage(
  site: HubPeopleSite,
  req: WebRequest,
  ctx: PeopleCtx,
  work: () => WebResponse | Promise<WebResponse>,
): Promise<WebResponse> {
  try {
    return await work();
  } catch (err) {
    if (!(err instanceof UserError) || req.wantsJson) throw err;
    return peopleHtml(site, ctx, err.code === 'USER_UNKNOWN' ? 404 : 422, { error: err.message });
  }
}

/** The People page and its forms, the JSON list and the lockout setting: the owner's alone (users.ts). */
export function addHubPeopleRoutes<Ctx extends PeopleCtx>(router: Router<Ctx>, site: HubPeopleSite): void {
  const form = (path: string, work: (req: WebRequest, ctx: Ctx) => WebResponse | Promise<WebResponse>): void => {
    router.add({
      method: 'POST',
      path,
      access: 'session',
      csrf: true,
      handler: (r, c) => orPage(site, r, c, () => work(r, c)),
    });
  };
  router.add({
    method: 'GET',
    path: '/people',
    access: 'session',
    csrf: false,
    handler: (req, ctx) => {
      const notice = req.notice;
      return peopleHtml(site, ctx, 200, notice ? { notice } : {});
    },
  });
  router.add({
    method: 'GET',
    path: '/api/people',
    access: 'session',
    csrf: false,
    handler: () => ({ kind: 'json', body: { people: people(site) } }),
  });
  router.add({
    method: 'GET',
    path: '/people/:name/remove',
    access: 'session',
    csrf: false,
    handler: async (req, ctx) => {
      const who = site.users.accountOf(req.params.name!);
      if (!who?.added) return peopleHtml(site, ctx, 404, { error: 'Nobody of that name can be removed.' });
      const csrf = ctx.session!.csrfToken;
      const { removePersonBody } = await loadPeoplePages();
      return { kind: 'html', body: hubPage('Remove', removePersonBody(csrf, who.name), csrf, ctx.user) };
    },
  });
  form('/people', (req, ctx) => addPerson(site, req, ctx));
  form('/people/:name/role', (req) => changeRole(site, req, req.params.name!));
  form('/people/:name/remove', (req, ctx) => removePerson(site, req, ctx, req.params.name!));
  form('/settings/lockout', (req) => {
    const who = site.users.accountOf(normaliseUserName(requiredField(req.body.name, 'name', 32)));
    if (!who) throw new UserError('USER_UNKNOWN', 'there is nobody of that name');
    site.login.clearAccount(who.account);
    return done(req, `login back-off of ${who.name} cleared`, { name: who.name });
  });
}
