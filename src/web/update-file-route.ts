/**
 * Installing an update from a file, for units that never reach the internet: the owner uploads the
 * file `bulwark release export` wrote (POST /update/file, the raw bytes as application/octet-stream,
 * the CSRF token in the x-csrf-token header). The app core streams the body to a 0600 file within
 * the updater's size bound; the updater verifies it exactly as an online update and installs it.
 * One upload at a time; every attempt is journalled with its outcome.
 */
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { codeOf } from '../errors/index.ts';
import { HttpError, SAVED_BODY_NAME, type Router, type SavedBody, type WebRequest, type WebResponse } from './http.ts';
import {
  recordOwner,
  type DeviceCtx,
  type DeviceSite,
  type UpdateFileOutcome,
  type WebUpdateFile,
} from './device-site.ts';

/** The path the admin page's form posts the file to. */
export const UPDATE_FILE_PATH = '/update/file';

/** The journal event of an upload attempt. */
const EVENT = 'update-file';

/**
 * The HTTP status of an installation's outcome: 200 when the unit runs or will run the file's
 * version, 422 when the file was refused, 409 when the updater cannot install now.
 */
export function uploadStatusOf(outcome: string): number {
  if (outcome === 'installed' || outcome === 'up-to-date') return 200;
  if (outcome === 'refused') return 422;
  if (outcome === 'failed') return 500;
  return 409;
}

function resultOf(outcome: string): 'success' | 'refused' | 'failure' {
  if (outcome === 'installed' || outcome === 'up-to-date') return 'success';
  return outcome === 'refused' ? 'refused' : 'failure';
}

/** Removes what an earlier upload left behind (a power cut mid-upload); only the core's own file names. */
async function removeLeftovers(dir: string): Promise<void> {
  const names = await readdir(dir).catch(() => [] as string[]);
  await Promise.all(names.filter((n) => SAVED_BODY_NAME.test(n)).map((n) => rm(join(dir, n), { force: true })));
}

async function saveUpload(site: DeviceSite, upload: WebUpdateFile, req: WebRequest): Promise<SavedBody> {
  if (!req.saveBody) throw new Error('the update file route has no streamed body');
  await removeLeftovers(upload.dir);
  try {
    return await req.saveBody({ dir: upload.dir, maxBytes: upload.maxBytes });
  } catch (err) {
    recordOwner(site, req, EVENT, 'refused', `upload not received (${codeOf(err)})`);
    throw err;
  }
}

async function installUpload(
  site: DeviceSite,
  upload: WebUpdateFile,
  req: WebRequest,
  saved: SavedBody,
): Promise<WebResponse> {
  let r: UpdateFileOutcome;
  try {
    r = await upload.install(saved.path);
  } catch (err) {
    recordOwner(site, req, EVENT, 'failure', `${saved.bytes} bytes: install failed (${codeOf(err)})`);
    throw err;
  } finally {
    await rm(saved.path, { force: true });
  }
  const what = [r.outcome, r.version, r.code ? `(${r.code})` : undefined].filter(Boolean).join(' ');
  recordOwner(site, req, EVENT, resultOf(r.outcome), `${saved.bytes} bytes: ${what}`);
  const body = { outcome: r.outcome, version: r.version, code: r.code, detail: r.detail };
  return { kind: 'json', status: uploadStatusOf(r.outcome), body };
}

/** POST /update/file, when the device can install from a file: owner session, CSRF token, one at a time. */
export function addUpdateFileRoute(router: Router<DeviceCtx>, site: DeviceSite): void {
  const upload = site.device.updateFile;
  if (!upload) return;
  let busy = false;
  router.add({
    method: 'POST',
    path: UPDATE_FILE_PATH,
    access: 'session',
    csrf: true,
    body: 'file',
    handler: async (req) => {
      if (busy) {
        recordOwner(site, req, EVENT, 'refused', 'another upload is in progress');
        throw new HttpError(409, 'UPDATE_UPLOAD_BUSY', 'another update file is being uploaded or installed');
      }
      busy = true;
      try {
        return await installUpload(site, upload, req, await saveUpload(site, upload, req));
      } finally {
        busy = false;
      }
    },
  });
}
