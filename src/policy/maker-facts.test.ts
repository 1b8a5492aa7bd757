import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hasCode } from '../errors/index.ts';
import { getModel } from '../models/index.ts';
import { withMakerFacts, type MakerFacts } from './maker-facts.ts';
import { parseProfile } from './profile.ts';

const BARE = 'model: plug\nnetworkModels: [listening, cloud]\npersonalData: true\ninternetExposed: false\n';
const FACTORY: MakerFacts = {
  maker: 'Example Heating Ltd',
  securityContact: 'mailto:security@heating.example',
  supportPeriodEnd: getModel('plug').supportPeriod.endsOn,
};

const refusal = (key: string) => (err: unknown) =>
  hasCode(err, 'PROFILE_INVALID') && (err as { key?: string }).key === key;

test("a profile without maker or contact takes the factory's", () => {
  const profile = withMakerFacts(parseProfile(BARE, getModel), FACTORY, 'the factory');
  assert.equal(profile.maker, 'Example Heating Ltd');
  assert.equal(profile.securityContact, 'mailto:security@heating.example');
  assert.equal(profile.supportPeriodEnd, FACTORY.supportPeriodEnd);
});

test('a profile stating the same maker and contact as the factory is accepted as it is', () => {
  const text = `${BARE}maker: Example Heating Ltd\nsecurityContact: mailto:security@heating.example\n`;
  const profile = parseProfile(text, getModel);
  assert.deepEqual(withMakerFacts(profile, FACTORY, 'the factory'), profile);
});

test('a profile naming another maker or contact than the factory is refused, naming both and the source', () => {
  const other = parseProfile(`${BARE}maker: Bulwark Demo Devices Ltd\n`, getModel);
  assert.throws(
    () => withMakerFacts(other, FACTORY, 'the factory (factory.json)'),
    (err: unknown) =>
      refusal('maker')(err) &&
      /"Bulwark Demo Devices Ltd".*factory\.json.*"Example Heating Ltd"/.test((err as Error).message),
  );
  const contact = parseProfile(`${BARE}securityContact: mailto:someone@else.example\n`, getModel);
  assert.throws(() => withMakerFacts(contact, FACTORY, 'the factory'), refusal('securityContact'));
});

test('a support end earlier than the unit was promised is refused; a later one (an extension) is kept', () => {
  const profile = parseProfile(BARE, getModel);
  // The unit was promised less than the model now says: the model extended it.
  const extended = { ...FACTORY, supportPeriodEnd: '2020-01-01' };
  assert.equal(withMakerFacts(profile, extended, 'the unit').supportPeriodEnd, profile.supportPeriodEnd);
  // The unit was promised more than the model now says: the policy would shorten it.
  const shortened = { ...FACTORY, supportPeriodEnd: '2099-12-31' };
  assert.throws(() => withMakerFacts(profile, shortened, 'the unit'), refusal('model'));
});
