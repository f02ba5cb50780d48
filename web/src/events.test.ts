import { describe, expect, it } from 'vitest';
import { eventLabel, prettyData } from './events';

describe('eventLabel', () => {
  it('turns an Avro record name into words', () => {
    expect(eventLabel('MoneyDebitedEvent')).toBe('Money debited');
    expect(eventLabel('BankAccountCreatedEvent')).toBe('Bank account created');
    expect(eventLabel('AlertsSettingsUpdated')).toBe('Alerts settings updated');
    expect(eventLabel('nl.openweb.data.MoneyCreditedEvent')).toBe('Money credited');
    expect(eventLabel('IBANCheckedEvent')).toBe('IBAN checked');
  });

  it('keeps a name it cannot split', () => {
    expect(eventLabel('')).toBe('');
    expect(eventLabel('---')).toBe('---');
  });
});

describe('prettyData', () => {
  it('indents JSON and leaves other text alone', () => {
    expect(prettyData('{"a":1,"b":[2]}')).toBe('{\n  "a": 1,\n  "b": [\n    2\n  ]\n}');
    expect(prettyData('not json')).toBe('not json');
  });
});
