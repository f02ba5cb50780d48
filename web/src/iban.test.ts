import { describe, expect, it } from 'vitest';
import serverIban from '../../src/domain/iban.c?raw';
import { checkIban, describeBban, formatIban, IBAN_LENGTHS, IBAN_REGISTRY, ibanMod97, normaliseIban } from './iban';

describe('checkIban', () => {
  it('accepts valid IBANs however they are typed', () => {
    for (const text of ['NL61OPEN0305797828', 'nl61 open 0305 7978 28', ' NL61 OPEN 0305 7978 28 ', 'NL66OPEN0000000000', 'DE89370400440532013000', 'GB82 WEST 1234 5698 7654 32', 'BE68539007547034', 'NO9386011117947']) {
      const r = checkIban(text);
      expect(r.state, text).toBe('valid');
    }
    expect(checkIban('nl61 open 0305 7978 28')).toEqual({ state: 'valid', iban: 'NL61OPEN0305797828', message: 'Valid IBAN: NL61 OPEN 0305 7978 28' });
  });

  it('says how many characters are still missing while typing', () => {
    expect(checkIban('')).toMatchObject({ state: 'empty' });
    expect(checkIban('N').state).toBe('incomplete');
    expect(checkIban('NL61 OPEN')).toMatchObject({ state: 'incomplete', message: 'NL IBANs have 18 characters: 10 more to type' });
    expect(checkIban('NL61OPEN030579782')).toMatchObject({ state: 'incomplete', message: 'NL IBANs have 18 characters: 1 more to type' });
  });

  it('catches mistyped IBANs with a reason a person can act on', () => {
    expect(checkIban('NL61OPEN0305797829')).toMatchObject({ state: 'invalid', message: 'The check digits do not match: a character is mistyped' });
    expect(checkIban('NL16OPEN0305797828').state).toBe('invalid'); // two digits swapped
    expect(checkIban('NL61OPEN03057978280')).toMatchObject({ state: 'invalid', message: 'NL IBANs have 18 characters, this has 19' });
    expect(checkIban('XX61OPEN0305797828')).toMatchObject({ state: 'invalid', message: 'XX is not a country code that has IBANs' });
    expect(checkIban('NL61-OPEN').message).toBe('An IBAN has only letters and digits, not "-"');
    expect(checkIban('12345').message).toMatch(/two-letter country code/);
    expect(checkIban('NLAB').message).toMatch(/check digits/);
    expect(checkIban('cash').state).toBe('invalid');
  });

  it('flags a character of the wrong kind as soon as it is typed, as the server would refuse it', () => {
    const nl = 'NL IBANs have 4 letters and 10 digits after the check digits';
    expect(checkIban('NL61OP3N')).toMatchObject({ state: 'invalid', message: `"3" in OP3N should be a letter: ${nl}` });
    expect(checkIban('nl61 op3n')).toMatchObject({ state: 'invalid', message: `"3" in OP3N should be a letter: ${nl}` });
    expect(checkIban('NL61OPEN030579782x')).toMatchObject({ state: 'invalid', message: `"X" in 2X should be a digit: ${nl}` });
    expect(checkIban('NL61 OPEN 0305 7978 2x')).toMatchObject({ state: 'invalid', message: `"X" in 2X should be a digit: ${nl}` });
    expect(checkIban('NL61OPEN03057978').state).toBe('incomplete');
    expect(checkIban('GB82WEST12345698765432').state).toBe('valid');
    expect(checkIban('GB82WEST1234569876543X').message).toMatch(/^"X" in 3X should be a digit: GB IBANs have 4 letters and 14 digits/);
    expect(checkIban('HN88CABF00000000000250005469').state).toBe('valid');
  });

  it('refuses check digits 00, 01 and 99, as the server does', () => {
    expect(checkIban('NL00OPEN0000000000').state).toBe('invalid');
    expect(checkIban('NL99OPEN0000000000').state).toBe('invalid');
  });

  it('normalises, groups and computes mod 97', () => {
    expect(normaliseIban(' nl61\u00a0open 0305 ')).toBe('NL61OPEN0305');
    expect(formatIban('NL61OPEN0305797828')).toBe('NL61 OPEN 0305 7978 28');
    expect(ibanMod97('NL61OPEN0305797828')).toBe(1);
    expect(IBAN_LENGTHS.NL).toBe(18);
    expect(describeBban('4a10n')).toBe('4 letters and 10 digits');
    expect(describeBban('3n3n8n2n')).toBe('16 digits');
    expect(describeBban('4a2n2n12n3n3a')).toBe('4 letters, 19 digits and 3 letters');
  });

  it('has the same registry as the server', () => {
    const server = Object.fromEntries(
      [...serverIban.matchAll(/\{"([A-Z]{2})", (\d+), "([0-9anc]+)"\}/g)].map(([, c, l, b]) => [c, [Number(l), b]]),
    );
    expect(Object.keys(server).length).toBeGreaterThan(80);
    expect(IBAN_REGISTRY).toEqual(server);
    for (const [country, [length, bban]] of Object.entries(IBAN_REGISTRY)) {
      expect(4 + [...bban.matchAll(/(\d+)[nac]/g)].reduce((n, m) => n + Number(m[1]), 0), country).toBe(length);
    }
  });
});
