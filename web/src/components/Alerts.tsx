import { useEffect, useState } from 'preact/hooks';
import { request } from '../api';
import { describeRule, draftOf, kindOf, MAX_RULES, RULE_KINDS, type RuleDraft, ruleOf } from '../alertRules';
import { askNotifications, dismissAlert, useAlerts, useNotificationState } from '../alerts';
import { useOnline, useReconnectEpoch } from '../live';
import { ALERT_RULES, type AlertKind, type AlertRule, SET_ALERTS } from '../queries';
import type { Login } from '../store';
import { formatTime } from '../time';
import { Icon, Link } from './common';

/** The alerts triggered on the user's accounts, newest first, each with its transaction. */
export function AlertFeed() {
  const alerts = useAlerts();
  return (
    <div id="alerts-feed" aria-live="polite">
      {alerts.map((a) => {
        const time = formatTime(a.transaction.at);
        return (
          <div key={`${a.iban}-${a.id}`} id={`alert-${a.iban}-${a.id}`} class="notification alert-item compact-notice" data-kind={a.kind}>
            <button type="button" class="delete" aria-label={`Dismiss alert ${a.id}`} onClick={() => dismissAlert(a.iban, a.id)} />
            <p>
              <Icon name="bell-ring" size={18} /> <strong class="alert-message">{a.message}</strong>
            </p>
            <p class="is-size-7">
              {`${a.when === 'away' ? 'While you were away, on' : a.when === 'earlier' ? 'Earlier, on' : 'On'} ${a.iban}: transaction #${a.transaction.id}`}
              {time && ` at ${time}`}
              {a.transaction.descr && ` (“${a.transaction.descr}”)`}
              {a.transaction.transfer && (
                <>
                  {' · '}
                  <Link to={`/transfer/${a.transaction.transfer}`} aria-label={`Its transfer (alert ${a.id})`}>
                    Its transfer
                  </Link>
                </>
              )}
            </p>
          </div>
        );
      })}
    </div>
  );
}

/** Says whether alerts also become browser notifications, and offers to turn them on. */
function NotificationsNote() {
  const state = useNotificationState();
  return (
    <p id="notifications-state" class="help mb-3" data-state={state}>
      <Icon name="bell-ring" size={16} />{' '}
      {state === 'granted' && 'Alerts show on this page and as browser notifications.'}
      {state === 'denied' && 'Browser notifications are blocked for this site: alerts show on this page only. Your browser’s site settings can allow them.'}
      {state === 'unsupported' && 'This browser has no notifications: alerts show on this page only.'}
      {state === 'default' && (
        <>
          {'Alerts show on this page. '}
          <button id="notifications-enable" type="button" class="button is-small is-info ml-2" onClick={() => void askNotifications(true)}>
            Also as browser notifications
          </button>
        </>
      )}
    </p>
  );
}

type Loaded = { kind: 'loading' } | { kind: 'error'; message: string } | { kind: 'ready' };

/**
 * The alert rules of the shown account (issue 15): one row per rule (a debit above, the balance
 * below, a credit from an IBAN, a description containing a word), at most 20, checked as typed;
 * saving replaces the rules (`set_alerts`) and, the first time, asks to show browser notifications.
 */
export function AlertSettings({ login }: { login: Login }) {
  const online = useOnline();
  const epoch = useReconnectEpoch();
  const [drafts, setDrafts] = useState<RuleDraft[]>([]);
  const [saved, setSaved] = useState<AlertRule[]>([]);
  const [loaded, setLoaded] = useState<Loaded>({ kind: 'loading' });
  const [busy, setBusy] = useState(false);
  const [outcome, setOutcome] = useState<{ ok: boolean; text: string } | null>(null);
  const [touched, setTouched] = useState(false);

  useEffect(() => {
    let active = true;
    setLoaded({ kind: 'loading' });
    setOutcome(null);
    setTouched(false);
    request<{ alerts: AlertRule[] | null }>(ALERT_RULES, { iban: login.iban, token: login.token })
      .then((d) => {
        if (!active) return;
        const rules = d.alerts ?? [];
        setSaved(rules);
        setDrafts(rules.map(draftOf));
        setLoaded(d.alerts ? { kind: 'ready' } : { kind: 'error', message: 'The bank gave no alert rules for this account' });
      })
      .catch((e: Error) => active && setLoaded({ kind: 'error', message: `Could not load the alert rules: ${e.message}` }));
    return () => {
      active = false;
    };
  }, [login.iban, login.token, epoch]);

  const checked = drafts.map(ruleOf);
  const valid = checked.every((c) => c.ok);
  const change = (i: number, d: Partial<RuleDraft>): void => {
    setDrafts(drafts.map((x, j) => (j === i ? { ...x, ...d } : x)));
    setOutcome(null);
  };
  const save = async (e: Event): Promise<void> => {
    e.preventDefault();
    setTouched(true);
    if (!valid || busy || !online) return;
    const rules = checked.map((c) => (c.ok ? c.rule : null)).filter((r): r is AlertRule => r !== null);
    setBusy(true);
    setOutcome(null);
    try {
      const d = await request<{ set_alerts: AlertRule[] | null }>(SET_ALERTS, { iban: login.iban, token: login.token, rules });
      if (!d.set_alerts) throw new Error('the bank did not take the rules');
      setSaved(d.set_alerts);
      setDrafts(d.set_alerts.map(draftOf));
      setTouched(false);
      const n = d.set_alerts.length;
      setOutcome({ ok: true, text: n === 0 ? 'Saved: no alert rules, so no alerts.' : `Saved: ${n} alert rule${n === 1 ? '' : 's'}.` });
      void askNotifications();
    } catch (err) {
      setOutcome({ ok: false, text: `Not saved: ${(err as Error).message}` });
    } finally {
      setBusy(false);
    }
  };

  return (
    <section id="alert-settings" aria-labelledby="alerts-title">
      <h2 id="alerts-title" class="title is-5">
        <Icon name="bell-ring" /> {`Alerts on ${login.iban}`}
      </h2>
      <NotificationsNote />
      {loaded.kind === 'loading' && <p class="list-state">Loading the alert rules…</p>}
      {loaded.kind === 'error' && (
        <p id="alerts-load-error" class="notification is-warning" role="alert">
          {loaded.message}
        </p>
      )}
      {loaded.kind === 'ready' && (
        <form id="alerts-form" class="box" onSubmit={(e) => void save(e)} noValidate>
          <fieldset disabled={busy}>
            <legend class="has-text-weight-semibold mb-2">Alert me when…</legend>
            {drafts.length === 0 && (
              <p id="alerts-none" class="list-state">
                No alert rules yet: add one.
              </p>
            )}
            {drafts.map((d, i) => {
              const k = kindOf(d.kind);
              const c = checked[i];
              const bad = touched || d.value !== '' ? (c && !c.ok ? c.error : null) : null;
              return (
                <div key={i} id={`alert-rule-${i}`} class="columns is-mobile is-multiline is-variable is-1 alert-rule">
                  <div class="column is-half-tablet is-full-mobile">
                    <label class="label is-small" for={`alert-kind-${i}`}>{`Rule ${i + 1}`}</label>
                    <div class="select is-small is-fullwidth">
                      <select id={`alert-kind-${i}`} value={d.kind} onChange={(e) => change(i, { kind: (e.target as HTMLSelectElement).value as AlertKind, value: '' })}>
                        {RULE_KINDS.map((r) => (
                          <option key={r.kind} value={r.kind}>
                            {r.label}
                          </option>
                        ))}
                      </select>
                    </div>
                  </div>
                  <div class="column">
                    <label class="label is-small" for={`alert-value-${i}`}>{k.valueLabel}</label>
                    <input
                      id={`alert-value-${i}`}
                      class={`input is-small ${bad ? 'is-danger' : ''}`}
                      type="text"
                      autocomplete="off"
                      inputMode={k.field === 'amount' ? 'decimal' : undefined}
                      placeholder={k.placeholder}
                      value={d.value}
                      aria-invalid={bad !== null}
                      aria-describedby={`alert-help-${i}`}
                      onInput={(e) => change(i, { value: (e.target as HTMLInputElement).value })}
                    />
                    <p id={`alert-help-${i}`} class={`help ${bad ? 'is-danger' : ''}`}>
                      {bad ?? (c?.ok ? describeRule(c.rule) : '')}
                    </p>
                  </div>
                  <div class="column is-narrow alert-remove">
                    <button
                      id={`alert-remove-${i}`}
                      type="button"
                      class="button is-small"
                      aria-label={`Remove rule ${i + 1}`}
                      onClick={() => {
                        setDrafts(drafts.filter((_, j) => j !== i));
                        setOutcome(null);
                      }}
                    >
                      <Icon name="delete" size={18} />
                    </button>
                  </div>
                </div>
              );
            })}
            <div class="buttons">
              <button
                id="alert-add"
                type="button"
                class="button is-small"
                disabled={drafts.length >= MAX_RULES}
                onClick={() => {
                  setDrafts([...drafts, { kind: 'DEBIT_ABOVE', value: '' }]);
                  setOutcome(null);
                }}
              >
                <Icon name="plus" size={18} />
                <span>Add a rule</span>
              </button>
              <button id="alerts-save" type="submit" class={`button is-info is-small ${busy ? 'is-loading' : ''}`} disabled={!online}>
                Save rules
              </button>
            </div>
            {drafts.length >= MAX_RULES && <p class="help">{`At most ${MAX_RULES} rules per account.`}</p>}
          </fieldset>
          <div aria-live="polite">
            {outcome && (
              <p id="alerts-outcome" class={`notification compact-notice ${outcome.ok ? 'is-completed-note' : 'is-warning'}`} data-ok={outcome.ok ? 'true' : 'false'}>
                {outcome.text}
              </p>
            )}
            {touched && !valid && (
              <p id="alerts-invalid" class="help is-danger">
                A rule needs fixing before the rules can be saved.
              </p>
            )}
          </div>
          {saved.length > 0 && (
            <div class="content is-small mt-2">
              <p class="mb-1">Saved now:</p>
              <ul id="alerts-saved">
                {saved.map((r, i) => (
                  <li key={i}>{describeRule(r)}</li>
                ))}
              </ul>
            </div>
          )}
        </form>
      )}
    </section>
  );
}
