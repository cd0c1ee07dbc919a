// openid-client, unmodified, as a relying party of the issuer. Driven line by line by
// tests/e2e/test_openid_client.py, which plays the browser:
//   argv: ISSUER_URL CLIENT_ID REDIRECT_URI POST_LOGOUT_REDIRECT_URI
//   stdout line 1: {"authorization_url": …}           (discovery, PKCE S256, state, nonce)
//   stdin  line 1: the URL the browser was redirected to (the code, state and iss)
//   stdout line 2: {"claims", "userinfo", "end_session_url"}  (code grant, ID token
//                  signature and claims checked, UserInfo, RP-initiated logout URL)
// Any failure: {"error": …} on stdout and exit code 1.
import * as client from 'openid-client'
import { createInterface } from 'node:readline'

const [issuerUrl, clientId, redirectUri, postLogoutRedirectUri] = process.argv.slice(2)
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]()
const say = (value) => process.stdout.write(`${JSON.stringify(value)}\n`)

try {
  // A public client (token_endpoint_auth_method none). http is allowed for the loopback
  // issuer only because the test serves one; the JWS signature of the ID token is checked
  // against the JWKS (enableNonRepudiationChecks), not only its claims.
  const config = await client.discovery(new URL(issuerUrl), clientId, undefined, client.None(), {
    execute: [client.allowInsecureRequests, client.enableNonRepudiationChecks],
  })
  const codeVerifier = client.randomPKCECodeVerifier()
  const state = client.randomState()
  const nonce = client.randomNonce()
  const authorizationUrl = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope: 'openid email',
    code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
    state,
    nonce,
  })
  say({ authorization_url: authorizationUrl.href })

  const callback = (await lines.next()).value
  const tokens = await client.authorizationCodeGrant(config, new URL(callback), {
    pkceCodeVerifier: codeVerifier,
    expectedState: state,
    expectedNonce: nonce,
  })
  const claims = tokens.claims()
  const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub)
  const endSessionUrl = client.buildEndSessionUrl(config, {
    id_token_hint: tokens.id_token,
    post_logout_redirect_uri: postLogoutRedirectUri,
    state: client.randomState(),
  })
  say({ claims, userinfo, end_session_url: endSessionUrl.href })
  process.exit(0)
} catch (error) {
  say({ error: `${error.name}: ${error.message}`, code: error.code, cause: `${error.cause ?? ''}` })
  process.exit(1)
}
