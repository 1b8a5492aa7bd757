/**
 * A HAP-NodeJS lightbulb accessory as its own process, a peer of the plug agent (issue 20, part 5).
 * bench/peers/install.ts writes it into the HAP-NodeJS install as JavaScript; it runs as `node hap-light.mjs`, with
 * its setup code in BULWARK_PEER_PINCODE (XXX-XX-XXX), its accessory id in BULWARK_PEER_USERNAME (a MAC address) and
 * its storage in BULWARK_PEER_STORAGE. Writes one JSON line `{"ready":true,...}` once its HAP server listens and its
 * advertisement is up, then runs until SIGTERM.
 *
 * Its advertiser (ciao) is told to use the loopback interface only (`bind: <lo>`); HAP-NodeJS 1.2 would still bind
 * its server to an unspecified address, which the loopback guard pins to 127.0.0.1.
 */
import { installLoopbackGuard, loopbackInterfaceName } from './loopback-guard.ts';

/** The parts of hap-nodejs this runner uses; the package comes from the peer's install, not the project. */
interface HapModule {
  readonly Accessory: new (name: string, uuid: string) => HapAccessory;
  readonly Service: { readonly Lightbulb: new (name: string) => HapService };
  readonly Characteristic: { readonly On: unknown };
  readonly uuid: { generate(data: string): string };
  readonly HAPStorage: { setCustomStoragePath(path: string): void };
  readonly Categories: { readonly LIGHTBULB: number };
}

interface HapService {
  getCharacteristic(type: unknown): {
    onGet(handler: () => boolean): { onSet(handler: (value: unknown) => void): unknown };
  };
}

interface HapAccessory {
  addService(service: HapService): unknown;
  on(event: 'listening', listener: (port: number) => void): unknown;
  on(event: 'advertised', listener: () => void): unknown;
  publish(info: Record<string, unknown>): Promise<void>;
  unpublish(): Promise<void>;
}

// A specifier in a variable: the package resolves from the install this file is written into, not from the project.
const HAP_NODEJS = 'hap-nodejs';

const { BULWARK_PEER_PINCODE: pincode, BULWARK_PEER_USERNAME: username, BULWARK_PEER_STORAGE: storage } = process.env;
if (!pincode || !username || !storage) {
  process.stderr.write('hap-light.mjs: BULWARK_PEER_PINCODE, BULWARK_PEER_USERNAME and BULWARK_PEER_STORAGE\n');
  process.exit(2);
}
const guard = installLoopbackGuard();
const started = performance.now();
const hap = ((await import(HAP_NODEJS)) as { default: HapModule }).default;
hap.HAPStorage.setCustomStoragePath(storage);
const accessory = new hap.Accessory('Bench light', hap.uuid.generate(`bulwark.bench.light.${username}`));
const bulb = new hap.Service.Lightbulb('Bench light');
let on = false;
bulb
  .getCharacteristic(hap.Characteristic.On)
  .onGet(() => on)
  .onSet((value) => {
    on = value === true;
  });
accessory.addService(bulb);
const listening = new Promise<number>((resolve) => accessory.on('listening', resolve));
const advertised = new Promise<void>((resolve) => accessory.on('advertised', resolve));
await accessory.publish({
  username,
  pincode,
  port: 0,
  category: hap.Categories.LIGHTBULB,
  advertiser: 'ciao',
  bind: loopbackInterfaceName(),
});
const port = await listening;
await advertised;
process.stdout.write(
  JSON.stringify({ ready: true, port, startMs: Math.round(performance.now() - started), guard }) + '\n',
);
const stop = (): void => {
  void accessory.unpublish().finally(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
