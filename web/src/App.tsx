import { useEffect } from 'preact/hooks';
import { useAlertFeed } from './alerts';
import { ClientLeft, ClientMiddle, ClientRight } from './components/Client';
import { ConnectionBanner } from './components/ConnectionBanner';
import { EmployeeLeft, EmployeeMiddle } from './components/Employee';
import { HomeLeft, HomeMiddle } from './components/Home';
import { NavBar } from './components/NavBar';
import { Settings } from './components/Settings';
import { NotFound, TransferView } from './components/TransferView';
import { useFocusRequests } from './focus';
import { titleOf, useAppState } from './store';

const VIEW_HEADINGS: Partial<Record<string, string>> = {
  home: 'BKES bank: the company account',
  'bank-employee': 'Bank employee: accounts and their transactions',
  client: 'Client: your account',
};

/** The whole page (spec 7.3): navbar, then left (quarter), middle (half) and right (quarter) columns. */
export function App() {
  const s = useAppState();
  useFocusRequests();
  // The logged-in user's alerts arrive whatever the page shows.
  useAlertFeed(s.login?.accounts ?? null);
  useEffect(() => {
    document.title = titleOf(s.route, s.transferUuid, s.tab);
  }, [s.route, s.transferUuid, s.tab]);
  let left;
  let middle;
  switch (s.route) {
    case 'home':
      left = <HomeLeft />;
      middle = <HomeMiddle maxItems={s.maxItems} show={s.show} />;
      break;
    case 'bank-employee':
      left = <EmployeeLeft followed={s.employeeIban} />;
      middle = <EmployeeMiddle followed={s.employeeIban} filters={s.filters} maxItems={s.maxItems} show={s.show} tab={s.tab} asOf={s.asOf} />;
      break;
    case 'client':
      left = <ClientLeft login={s.login} past={s.tab === 'transactions' && s.asOf !== null} />;
      middle = <ClientMiddle login={s.login} maxItems={s.maxItems} show={s.show} tab={s.tab} asOf={s.asOf} />;
      break;
    case 'transfer':
      left = null;
      middle = <TransferView uuid={s.transferUuid ?? ''} login={s.login} />;
      break;
    default:
      left = null;
      middle = <NotFound path={s.path} />;
  }
  const settings = s.route === 'home' || ((s.route === 'bank-employee' || s.route === 'client') && s.tab === 'transactions');
  const heading = s.route === 'home' || s.route === 'bank-employee' || s.route === 'client';
  return (
    <div>
      <a class="skip-link" href="#main">
        Skip to content
      </a>
      <NavBar route={s.route} mobExpand={s.mobExpand} showLeft={s.showLeft} />
      <ConnectionBanner />
      <main id="main" class="section" tabIndex={-1}>
        {heading && <h1 class="is-sr-only">{VIEW_HEADINGS[s.route]}</h1>}
        <div class="container">
          <div class="columns">
            <div class="column is-one-quarter" id="left-column">
              {s.showLeft && left}
            </div>
            <div class="column is-half" id="middle-column">
              {middle}
            </div>
            <div class="column is-one-quarter" id="right-column">
              {s.route === 'client' && <ClientRight login={s.login} tab={s.tab} asOf={s.asOf} />}
              {settings && <Settings maxItems={s.maxItems} show={s.show} />}
            </div>
          </div>
        </div>
      </main>
    </div>
  );
}
