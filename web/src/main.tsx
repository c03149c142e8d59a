import { EuiProvider, EuiPageTemplate, EuiHeader, EuiHeaderSectionItem, EuiHeaderLinks, EuiHeaderLink, EuiTitle, EuiButtonEmpty, EuiText } from '@elastic/eui';
import { useEffect, useState, type ReactNode } from 'react';
import { api, signInNeeded, type SessionInfo } from './api';
import { LoginPage } from './pages/login';
import { createRoot } from 'react-dom/client';
import { AlertsPage } from './pages/alerts';
import { AlertDetailPage } from './pages/alert-detail';
import { RulesPage, RuleDetailPage } from './pages/rules';
import { CoveragePage } from './pages/coverage';
import { SearchPage } from './pages/search';
import { ExceptionListsPage } from './pages/exceptions';
import { HealthPage } from './pages/health';
import './vigil.css';

/** The page named by the URL's hash: #/alerts, #/alerts/<id>, #/rules/<id>, … */
function useRoute(): { route: string[]; visit: number } {
  // the part after '?' is the page's own state (see hashParams)
  const read = (): string[] => (window.location.hash.replace(/^#\/?/, '').split('?')[0] || 'alerts').split('/').map((s) => decodeURIComponent(s));
  const [state, setState] = useState(() => ({ route: read(), visit: 0 }));
  useEffect(() => {
    // every navigation (a link, back, a typed URL) is a new visit: the page starts from its URL
    const on = (): void => setState((s) => ({ route: read(), visit: s.visit + 1 }));
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return state;
}

const NAV: Array<[string, string]> = [
  ['alerts', 'Alerts'],
  ['rules', 'Rules'],
  ['coverage', 'ATT&CK coverage'],
  ['exceptions', 'Exceptions'],
  ['search', 'EQL search'],
  ['health', 'Health'],
];

/** Signs in first when the server asks for it, then the app. */
function Gate(): ReactNode {
  const [session, setSession] = useState<SessionInfo | null | 'loading'>('loading');
  useEffect(() => {
    api.session().then(setSession, () => setSession(null));
    const on = (): void => setSession(null);
    signInNeeded.addEventListener('needed', on);
    return () => signInNeeded.removeEventListener('needed', on);
  }, []);
  if (session === 'loading') return null;
  if (session === null) return <LoginPage onSignedIn={setSession} />;
  return <App session={session} onSignOut={() => void api.logout().finally(() => setSession(null))} />;
}

function App({ session, onSignOut }: { session: SessionInfo; onSignOut: () => void }): ReactNode {
  const { route, visit } = useRoute();
  const [page, arg] = route;
  let body: ReactNode;
  if (page === 'alerts' && arg) body = <AlertDetailPage id={arg} />;
  else if (page === 'alerts') body = <AlertsPage />;
  else if (page === 'rules' && arg) body = <RuleDetailPage id={arg} />;
  else if (page === 'rules') body = <RulesPage />;
  else if (page === 'coverage') body = <CoveragePage />;
  else if (page === 'search') body = <SearchPage />;
  else if (page === 'exceptions') body = <ExceptionListsPage />;
  else if (page === 'health') body = <HealthPage />;
  else body = <p>No such page.</p>;
  return (
    <>
      <EuiHeader position="fixed">
        <EuiHeaderSectionItem>
          <EuiTitle size="xs">
            <h1 className="vigil-brand">Vigil</h1>
          </EuiTitle>
        </EuiHeaderSectionItem>
        <EuiHeaderSectionItem>
          <EuiHeaderLinks>
            {NAV.map(([id, label]) => (
              <EuiHeaderLink key={id} href={`#/${id}`} isActive={page === id} data-test-subj={`nav-${id}`}>
                {label}
              </EuiHeaderLink>
            ))}
          </EuiHeaderLinks>
        </EuiHeaderSectionItem>
        <EuiHeaderSectionItem>
          {session.auth ? (
            <>
              <EuiText size="s" data-test-subj="signed-in-user">
                {session.user} ({session.roles.join(', ')})
              </EuiText>
              <EuiButtonEmpty size="s" onClick={onSignOut} data-test-subj="sign-out">
                Sign out
              </EuiButtonEmpty>
            </>
          ) : (
            <EuiText size="s" color="danger" data-test-subj="auth-off">
              authentication off
            </EuiText>
          )}
        </EuiHeaderSectionItem>
      </EuiHeader>
      <EuiPageTemplate panelled={false} restrictWidth={false} paddingSize="m" offset={48}>
        <EuiPageTemplate.Section key={visit}>{body}</EuiPageTemplate.Section>
      </EuiPageTemplate>
    </>
  );
}

createRoot(document.getElementById('root')!).render(
  <EuiProvider colorMode="light">
    <Gate />
  </EuiProvider>,
);
