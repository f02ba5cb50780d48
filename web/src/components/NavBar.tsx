import type { IconName } from '../icons';
import logo from '../img/logo.svg';
import { getState, type Route, update } from '../store';
import { Icon, Link } from './common';

const SOCIAL: { href: string; icon: IconName; tone: string; label: string }[] = [
  { href: 'https://www.openweb.nl', icon: 'domain', tone: 'openweb', label: 'Open Web' },
  { href: 'https://twitter.com/GKlijs', icon: 'twitter', tone: 'twitter', label: 'Twitter' },
  { href: 'https://www.linkedin.com/in/gerard-klijs-416b3744/', icon: 'linkedin', tone: 'linkedin', label: 'LinkedIn' },
  { href: 'https://github.com/gklijs/bob2021', icon: 'github', tone: 'github', label: 'GitHub' },
];

function Social({ hide }: { hide: string }) {
  return (
    <>
      {SOCIAL.map((s) => (
        <a key={s.href} class={`navbar-item ${hide}`} href={s.href} target="_blank" rel="noopener noreferrer" title={s.label}>
          <Icon name={s.icon} tone={s.tone} label={`${s.label} (opens in a new tab)`} />
        </a>
      ))}
    </>
  );
}

const MENU: { route: Route; path: string; label: string }[] = [
  { route: 'bank-employee', path: '/employee', label: 'Bank-employee' },
  { route: 'client', path: '/client', label: 'Client' },
];

/** The fixed top navbar (spec 7.3): logo, mobile toggles, social links and the main menu. */
export function NavBar({ route, mobExpand, showLeft }: { route: Route; mobExpand: boolean; showLeft: boolean }) {
  return (
    <nav id="nav-bar" class="navbar is-fixed-top" role="navigation" aria-label="main navigation">
      <div class="navbar-brand">
        <Link to="/" class={`navbar-item ${route === 'home' ? 'is-active' : ''}`} aria-current={route === 'home' ? 'page' : undefined}>
          <img class="logo" src={logo} width={140} height={28} alt="BKES bank, home" />
        </Link>
        <button
          type="button"
          class="navbar-item is-hidden-tablet"
          aria-label={showLeft ? 'Hide the first column' : 'Show the first column'}
          aria-pressed={showLeft}
          onClick={() => update({ showLeft: !getState().showLeft })}
        >
          <Icon name={showLeft ? 'arrow-up-drop-circle-outline' : 'arrow-down-drop-circle-outline'} tone="toggle" />
        </button>
        <Social hide="is-hidden-desktop is-hidden-mobile" />
        <button
          type="button"
          class={`navbar-burger ${mobExpand ? 'is-active' : ''}`}
          aria-label="menu"
          aria-expanded={mobExpand}
          aria-controls="main-menu"
          onClick={() => update({ mobExpand: !getState().mobExpand })}
        >
          <span aria-hidden="true" />
          <span aria-hidden="true" />
          <span aria-hidden="true" />
        </button>
      </div>
      <div id="main-menu" class={`navbar-menu ${mobExpand ? 'is-active' : ''}`}>
        <div id="flex-main-menu" class="navbar-start">
          {MENU.map((m) => (
            <Link key={m.route} to={m.path} class={`navbar-item ${route === m.route ? 'is-active' : ''}`} aria-current={route === m.route ? 'page' : undefined}>
              {m.label}
            </Link>
          ))}
        </div>
        <div class="navbar-end">
          <Social hide="is-hidden-touch" />
          <div class="navbar-item is-hidden-tablet social-row">
            <Social hide="" />
          </div>
        </div>
      </div>
    </nav>
  );
}
