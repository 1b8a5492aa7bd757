/**
 * The owner's People routes on the device's page (pages, forms and the JSON list) and the lockout
 * setting. All of them are the owner's alone: users.ts lists no lesser role for them. What they do
 * is in users-people.ts, loaded on first use so the agent does not carry it at start.
 */
import type { Router, WebRequest, WebResponse } from './http.ts';
import type { DeviceCtx, DeviceSite } from './device-site.ts';
import type * as PeopleModule from './users-people.ts';

type People = typeof PeopleModule;
let loaded: Promise<People> | undefined;
const people = (): Promise<People> => (loaded ??= import('./users-people.ts'));

/** The People page and its forms, the JSON list, and the lockout setting: the owner's alone. */
export function addPeopleRoutes(router: Router<DeviceCtx>, site: DeviceSite): void {
  const route = (
    method: 'GET' | 'POST',
    path: string,
    work: (p: People, req: WebRequest, ctx: DeviceCtx) => WebResponse | Promise<WebResponse>,
  ): void => {
    router.add({
      method,
      path,
      access: 'session',
      csrf: method === 'POST',
      handler: async (req, ctx) => work(await people(), req, ctx),
    });
  };
  route('GET', '/people', (p, req, ctx) => {
    const notice = req.notice;
    return p.peopleHtml(site, ctx, 200, notice ? { notice } : {});
  });
  route('GET', '/api/people', (p) => ({ kind: 'json', body: { people: p.people(site) } }));
  route('POST', '/people', (p, req, ctx) => p.orPage(site, req, ctx, () => p.addPerson(site, req, ctx)));
  route('POST', '/people/:name/role', (p, req, ctx) =>
    p.orPage(site, req, ctx, () => p.changeRole(site, req, req.params.name!)),
  );
  route('GET', '/people/:name/remove', (p, req, ctx) => p.removeConfirmation(site, req, ctx));
  route('POST', '/people/:name/remove', (p, req, ctx) =>
    p.orPage(site, req, ctx, () => p.removePerson(site, req, ctx, req.params.name!)),
  );
  route('POST', '/settings/lockout', (p, req) => p.clearBackOff(site, req));
}
