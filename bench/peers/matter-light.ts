/**
 * A matter.js OnOff light as its own process, the peer of the plug agent (issue 20, part 5). bench/peers/install.ts
 * writes it into the matter.js install as JavaScript, where it runs as `node matter-light.mjs <udp port>`, with the
 * setup passcode and discriminator in BULWARK_PEER_PASSCODE and BULWARK_PEER_DISCRIMINATOR (not in argv, where `ps`
 * would show them) and its storage in MATTER_STORAGE_PATH. Writes one JSON line `{"ready":true,...}` once the node
 * is online and commissionable, then runs until SIGTERM (matter.js closes the node on that signal itself).
 */
import { installLoopbackGuard } from './loopback-guard.ts';

/** The parts of @matter/main this runner uses; the package comes from the peer's install, not the project. */
interface MatterLightModule {
  readonly ServerNode: {
    create(type: unknown, options: Record<string, unknown>): Promise<MatterServerNode>;
    readonly RootEndpoint: unknown;
  };
  readonly OnOffLightDevice: { readonly deviceType: number };
  VendorId(id: number): number;
  DeviceTypeId(id: number): number;
}

interface MatterServerNode {
  add(type: unknown): Promise<unknown>;
  start(): Promise<void>;
  readonly state: { readonly network: { readonly port: number; readonly operationalPort: number } };
}

// Specifiers in variables: the packages resolve from the install this file is written into, not from the project.
const MATTER_MAIN = '@matter/main';
const ON_OFF_LIGHT = '@matter/main/devices/on-off-light';

const [portText] = process.argv.slice(2);
const passcode = Number(process.env.BULWARK_PEER_PASSCODE);
const discriminator = Number(process.env.BULWARK_PEER_DISCRIMINATOR);
if (!portText || !Number.isInteger(passcode) || !Number.isInteger(discriminator)) {
  process.stderr.write('usage: matter-light.mjs <udp port> (passcode and discriminator in env)\n');
  process.exit(2);
}
const guard = installLoopbackGuard();
const started = performance.now();
const m = { ...(await import(MATTER_MAIN)), ...(await import(ON_OFF_LIGHT)) } as MatterLightModule;
const node = await m.ServerNode.create(m.ServerNode.RootEndpoint, {
  id: 'bench-light',
  network: { port: Number(portText), listeningAddressIpv4: '127.0.0.1', listeningAddressIpv6: '::1' },
  commissioning: { passcode, discriminator },
  productDescription: { name: 'Bench light', deviceType: m.DeviceTypeId(m.OnOffLightDevice.deviceType) },
  basicInformation: {
    vendorName: 'Bulwark bench',
    vendorId: m.VendorId(0xfff1),
    nodeLabel: 'Bench light',
    productName: 'Bench light',
    productLabel: 'Bench light',
    productId: 0x8000,
    serialNumber: `bench-${process.pid}`,
    uniqueId: `bench-light-${process.pid}`,
  },
});
await node.add(m.OnOffLightDevice);
await node.start();
process.stdout.write(
  JSON.stringify({
    ready: true,
    port: node.state.network.operationalPort || node.state.network.port,
    startMs: Math.round(performance.now() - started),
    guard,
  }) + '\n',
);
