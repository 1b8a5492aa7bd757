/**
 * The cloud's mail on the command line: `cloud run`'s SMTP options (STARTTLS is always required;
 * there is no option to send without it) and `cloud mail`, which shows the messages a cloud with
 * no SMTP server wrote to its maildir (`<state>/mail`), for a demo or a first try.
 */
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import type { MailConfig } from '../cloud/index.ts';

/** `cloud run`'s mail options as commander parses them. */
export interface MailOptions {
  smtpHost?: string;
  smtpPort?: string;
  smtpCa?: string;
  smtpPin?: string;
  smtpUser?: string;
  smtpPasswordFile?: string;
  mailFrom?: string;
  linkBase?: string;
}

/** Adds the mail options to `cloud run`. */
export function addMailOptions(run: Command): Command {
  return run
    .option('--smtp-host <host>', 'send mail to owners over this SMTP server (STARTTLS required); else the maildir')
    .option('--smtp-port <port>', 'its submission port', '587')
    .option('--smtp-ca <pem>', "the CA its certificate must chain to (default: the system's)")
    .option('--smtp-pin <sha256>', 'accept only this server certificate (SHA-256 of its DER, hex)')
    .option('--smtp-user <name>', 'log in to the server as this user')
    .option('--smtp-password-file <file>', "the file holding that user's password")
    .option('--mail-from <address>', 'the From: of messages to owners')
    .option('--link-base <origin>', "the https origin links in messages point to (default: the owner API's URL)");
}

/** `startCloud`'s `mail` option from the command line; the cloud validates it before anything starts. */
export async function mailOption(o: MailOptions): Promise<{ mail?: Partial<MailConfig> }> {
  const password = o.smtpPasswordFile ? (await readFile(resolve(o.smtpPasswordFile), 'utf8')).trim() : undefined;
  const smtp = o.smtpHost
    ? {
        smtp: {
          host: o.smtpHost,
          port: Number(o.smtpPort ?? '587'),
          ...(o.smtpCa ? { caPem: await readFile(resolve(o.smtpCa), 'utf8') } : {}),
          ...(o.smtpPin ? { pinSha256: o.smtpPin.toLowerCase() } : {}),
          ...(o.smtpUser ? { user: o.smtpUser } : {}),
          ...(password !== undefined ? { pass: password } : {}),
        },
      }
    : {};
  const mail = {
    ...smtp,
    ...(o.mailFrom ? { from: o.mailFrom } : {}),
    ...(o.linkBase ? { linkBase: o.linkBase } : {}),
  };
  return Object.keys(mail).length > 0 ? { mail } : {};
}

/** `cloud mail --state <dir> [--to <address>]`: the maildir's messages, newest last. */
export function registerCloudMail(cloud: Command): void {
  cloud
    .command('mail')
    .description('show the messages a cloud without an SMTP server wrote to its maildir (<state>/mail)')
    .requiredOption('--state <dir>', "the cloud's state folder")
    .option('--to <address>', 'only messages to this address')
    .option('--limit <n>', 'the newest n messages', '10')
    .action(async (o: { state: string; to?: string; limit: string }) => {
      const { maildirMessages } = await import('../cloud/index.ts');
      const to = o.to?.toLowerCase();
      const all = await maildirMessages(join(resolve(o.state), 'mail'), 10_000);
      const shown = all.filter((m) => to === undefined || m.to.toLowerCase().includes(to));
      for (const m of shown.slice(-Math.max(1, Number(o.limit) || 10)))
        process.stdout.write(`To: ${m.to}\nSubject: ${m.subject}\nDate: ${m.date}\n\n${m.text.trim()}\n\n`);
      if (shown.length === 0) process.stdout.write('no messages\n');
    });
}
