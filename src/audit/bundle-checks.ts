/**
 * Checks of the unit's bundle, white-box: the update trust anchor it carries, the model it names,
 * and the modes of its secret files and of the state folder. Reading only, bounded.
 */
import { join } from 'node:path';
import { BUNDLE_FILES } from '../bundle/index.ts';
import type { AuditContext } from './context.ts';
import { notTested, verdict, type CheckOutcome } from './context.ts';
import { readUnitRecord } from './device-info.ts';
import { readBounded, readJsonBounded, walk } from './files.ts';
import type { Evidence } from './types.ts';

/**
 * bundle.update-trust-anchor: the bundle carries the update repository's TUF root metadata, signed by its own threshold
 * of root keys.
 */
export async function checkUpdateTrustAnchor(ctx: AuditContext): Promise<CheckOutcome> {
  if (ctx.inputs.bundleDir === undefined)
    return notTested('needs --bundle to read the update trust anchor (TUF root metadata)');
  const name = BUNDLE_FILES.updateRoot.name;
  const { value, reason } = await readJsonBounded(join(ctx.inputs.bundleDir, name), 1_048_576);
  if (value === undefined) {
    return {
      status: 'fail',
      summary: `the bundle has no usable update trust anchor: ${name} is ${reason ?? 'unreadable'}`,
      evidence: [{ sent: `read ${name} in the bundle`, received: reason ?? 'unreadable', finding: true }],
    };
  }
  const { Metadata, MetadataKind } = await import('@tufjs/models');
  const evidence: Evidence[] = [];
  let root;
  try {
    root = Metadata.fromJSON(MetadataKind.Root, value as never);
  } catch (err) {
    evidence.push({
      sent: `parse ${name} as TUF root metadata`,
      received: `not root metadata (${(err as Error).message.slice(0, 120)})`,
      finding: true,
    });
    return { status: 'fail', summary: 'the update trust anchor is not TUF root metadata', evidence };
  }
  const signed = root.signed;
  const role = signed.roles.root;
  evidence.push({
    sent: `parse ${name} as TUF root metadata`,
    received:
      `root version ${signed.version}, ${Object.keys(signed.keys).length} keys, root threshold ` +
      `${role?.threshold ?? '?'}, ${Object.keys(root.signatures).length} signatures`,
  });
  let verified = true;
  try {
    root.verifyDelegate('root', root);
  } catch {
    verified = false;
  }
  evidence.push({
    sent: "verify the root's signatures against its own root keys",
    received: verified
      ? `at least ${role?.threshold ?? '?'} valid signatures: verified`
      : 'fewer valid signatures than the threshold',
    finding: !verified,
  });
  const expires = Date.parse(signed.expires);
  // A baked-in root may expire on the shelf: the TUF client walks to the newest root first and judges expiry on that
  // one.
  evidence.push({
    sent: 'root expiry',
    received: `${signed.expires}${
      expires <= Date.now()
        ? ' (passed: the updater must find a newer root in the ' + 'repository before it trusts anything)'
        : ''
    }`,
  });
  return verdict(
    evidence,
    `the bundle carries TUF root metadata (version ${signed.version}) signed by its threshold of root keys`,
    () => 'the update trust anchor is not validly signed',
  );
}

/** bundle.model-designation: unit.json, the sticker and the login page name the model. */
export async function checkModelDesignation(ctx: AuditContext): Promise<CheckOutcome> {
  const unit = await readUnitRecord(ctx);
  if (unit === undefined)
    return notTested(
      ctx.inputs.bundleDir === undefined
        ? 'needs --bundle (unit.json names the model)'
        : 'unit.json in the bundle cannot be read',
    );
  const name = typeof unit.modelName === 'string' ? unit.modelName : '';
  const evidence: Evidence[] = [
    {
      sent: 'read unit.json in the bundle',
      received: name ? `model ${String(unit.model)}, "${name}"` : 'no model name',
      finding: name === '',
    },
  ];
  const sticker = await readBounded(join(ctx.inputs.bundleDir!, BUNDLE_FILES.stickerSvg.name), 1_048_576);
  if (sticker.ok) {
    const escaped = name.replace(/&/g, '&amp;').replace(/</g, '&lt;');
    evidence.push({
      sent: `read ${BUNDLE_FILES.stickerSvg.name} (the printed label)`,
      received: sticker.text.includes(escaped) ? `names "${name}"` : 'does not name the model',
      finding: !sticker.text.includes(escaped),
    });
  }
  const page = ctx.trace.answers.find((a) => a.request === 'GET /login' && a.status === 200);
  if (page !== undefined)
    evidence.push({
      sent: 'the login page seen by the black-box probes',
      received: page.bodyStart.includes(name) ? `names "${name}"` : 'does not name the model',
      finding: !page.bodyStart.includes(name),
    });
  return verdict(
    evidence,
    `the model "${name}" is named in unit.json${sticker.ok ? ', on the sticker' : ''}${
      page ? ' and on the login ' + 'page' : ''
    }`,
    () => 'the model designation is missing somewhere the owner looks',
  );
}

/**
 * bundle.secret-file-modes: secret bundle files and the whole state folder are owner-only; codes only as verifiers or
 * hashes.
 */
export async function checkSecretFileModes(ctx: AuditContext): Promise<CheckOutcome> {
  const { bundleDir, stateDir } = ctx.inputs;
  if (bundleDir === undefined && stateDir === undefined)
    return notTested('needs --bundle or --state to read file modes');
  const evidence: Evidence[] = [];
  if (bundleDir !== undefined) {
    for (const spec of Object.values(BUNDLE_FILES)) {
      const f = await readBounded(join(bundleDir, spec.name), 4 * 1_048_576);
      if (!f.ok) continue;
      const mode = f.mode.toString(8).padStart(4, '0');
      if (spec.secret)
        evidence.push({ sent: `mode of ${spec.name} (secret)`, received: mode, finding: (f.mode & 0o077) !== 0 });
      else if ((f.mode & 0o022) !== 0)
        evidence.push({ sent: `mode of ${spec.name}`, received: `${mode} (writable by others)`, finding: true });
      if (spec.audience === 'factory')
        evidence.push({
          sent: `${spec.name} in the bundle folder`,
          received:
            "present: a factory-only file (plain sticker secrets); this is the factory's output folder, whose " +
            'device files are what gets flashed',
        });
    }
    const { value: verifier } = await readJsonBounded(join(bundleDir, BUNDLE_FILES.pairingVerifier.name), 65_536);
    const plain =
      verifier !== undefined && /"(setupCode|setup_code|code|claimCode)"\s*:/i.test(JSON.stringify(verifier));
    evidence.push({
      sent: `keys of ${BUNDLE_FILES.pairingVerifier.name}`,
      received: verifier === undefined ? 'absent' : plain ? 'holds a plain code' : 'a verifier only (no setup code)',
      finding: plain,
    });
    const unit = await readUnitRecord(ctx);
    const unitPlain =
      unit !== undefined && Object.keys(unit).some((k) => /code|password/i.test(k) && !/mode$/i.test(k));
    if (unit !== undefined)
      evidence.push({
        sent: 'keys of unit.json',
        received: unitPlain ? 'holds a code or password' : 'public identity only',
        finding: unitPlain,
      });
  }
  if (stateDir !== undefined) {
    const { entries, truncated } = await walk(stateDir, ctx.inputs.limits.maxStateFiles);
    if (entries.length === 0) evidence.push({ sent: `list ${stateDir}`, received: 'missing', finding: true });
    const open = entries.filter((e) => e.kind !== 'other' && (e.mode & 0o077) !== 0);
    evidence.push({
      sent: `modes of ${entries.length} files and folders in the state folder${truncated ? ' (first ones only)' : ''}`,
      received:
        open.length === 0
          ? 'all owner-only (files 0600, folders 0700)'
          : `open to group or others: ${open
              .slice(0, 10)
              .map((e) => `${e.name} ${e.mode.toString(8)}`)
              .join(', ')}`,
      finding: open.length > 0,
    });
  }
  return verdict(
    evidence,
    'every secret file is owner-only and setup and claim codes are stored only as verifiers or hashes',
    (f) => `secrets exposed: ${f.map((e) => e.sent).join('; ')}`,
  );
}
