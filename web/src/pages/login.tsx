import { EuiButton, EuiCallOut, EuiFieldPassword, EuiFieldText, EuiForm, EuiFormRow, EuiPanel, EuiSpacer, EuiTitle } from '@elastic/eui';
import { useState, type FormEvent, type ReactNode } from 'react';
import { api, ApiError, type SessionInfo } from '../api';

/** The sign-in form: a user name and password give a session cookie (HttpOnly, SameSite=Strict). */
export function LoginPage({ onSignedIn }: { onSignedIn: (s: SessionInfo) => void }): ReactNode {
  const [username, setUsername] = useState('elastic');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = (e: FormEvent): void => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    api
      .login(username, password)
      .then(onSignedIn, (err: unknown) => setError(err instanceof ApiError && err.status === 401 ? 'Wrong user name or password.' : err instanceof Error ? err.message : String(err)))
      .finally(() => setBusy(false));
  };
  return (
    <div className="vigil-login">
      <EuiPanel paddingSize="l">
        <EuiTitle size="s">
          <h1>Sign in to Vigil</h1>
        </EuiTitle>
        <EuiSpacer size="m" />
        {error && (
          <>
            <EuiCallOut color="danger" title={error} size="s" data-test-subj="login-error" />
            <EuiSpacer size="s" />
          </>
        )}
        <EuiForm component="form" onSubmit={submit}>
          <EuiFormRow label="User name">
            <EuiFieldText name="username" value={username} onChange={(e) => setUsername(e.target.value)} autoComplete="username" data-test-subj="login-username" />
          </EuiFormRow>
          <EuiFormRow label="Password" helpText="The elastic user's password is printed on the server's first start (vigil reset-password makes a new one).">
            <EuiFieldPassword name="password" type="dual" value={password} onChange={(e) => setPassword(e.target.value)} autoComplete="current-password" data-test-subj="login-password" />
          </EuiFormRow>
          <EuiSpacer size="m" />
          <EuiButton type="submit" fill isLoading={busy} data-test-subj="login-submit">
            Sign in
          </EuiButton>
        </EuiForm>
      </EuiPanel>
    </div>
  );
}
