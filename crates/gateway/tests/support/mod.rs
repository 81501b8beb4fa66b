//! Shared helpers for the in-process contract tests: a router over a
//! security manager, requests through `tower::ServiceExt::oneshot`.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use http::{Request, Response, StatusCode};
use http_body_util::BodyExt as _;
use tower::ServiceExt as _;
use zgate_auth::{
    thumbprint_kid, KeyRing, ManualClock, MemoryRevocationStore, RevocationStore, SigningKey,
    TokenService, TokenSettings,
};
use zgate_gateway::routes::Gateway;
use zgate_gateway::security::CertOutcome;
use zgate_gateway::{
    router, AccessLevel, AppState, AuthOutcome, BackendError, Secret, SecurityManager, Settings,
};

pub const RSA_A: &[u8] = include_bytes!("../../../auth/testdata/rsa-a.pk8.der");
pub const RSA_B: &[u8] = include_bytes!("../../../auth/testdata/rsa-b.pk8.der");
pub const T0: i64 = 1_700_000_000_000;

/// A small in-process security manager with RACF-like answers, for the
/// HTTP-contract tests that need states a real ESM takes setup to reach.
#[derive(Default)]
pub struct TableSecurity {
    /// user → (password, expired, revoked)
    pub users: Mutex<HashMap<String, (String, bool, bool)>>,
    /// (user, class, resource) → level granted
    pub access: Mutex<HashMap<(String, String, String), AccessLevel>>,
    pub down: Mutex<bool>,
}

impl TableSecurity {
    pub fn with_user(self, user: &str, password: &str) -> Self {
        self.users
            .lock()
            .unwrap()
            .insert(user.to_string(), (password.to_string(), false, false));
        self
    }
}

impl SecurityManager for TableSecurity {
    fn authenticate(
        &self,
        _origin: &zgate_gateway::Origin,
        user: &str,
        password: &Secret,
        new_password: Option<&Secret>,
    ) -> Result<AuthOutcome, BackendError> {
        if *self.down.lock().unwrap() {
            return Err(BackendError("down".into()));
        }
        let user = user.to_ascii_uppercase();
        let mut users = self.users.lock().unwrap();
        let Some((stored, expired, revoked)) = users.get_mut(&user) else {
            return Ok(AuthOutcome::InvalidCredentials);
        };
        if *revoked {
            return Ok(AuthOutcome::Revoked);
        }
        if stored != password.expose() {
            return Ok(AuthOutcome::InvalidCredentials);
        }
        if let Some(new) = new_password {
            if new.expose().len() < 4 {
                return Ok(AuthOutcome::NewPasswordInvalid);
            }
            *stored = new.expose().to_string();
            *expired = false;
        }
        if *expired {
            return Ok(AuthOutcome::PasswordExpired);
        }
        Ok(AuthOutcome::Authenticated { user })
    }

    fn check(
        &self,
        user: &str,
        class: &str,
        resource: &str,
        level: AccessLevel,
        _conditions: zgate_gateway::Conditions<'_>,
    ) -> Result<bool, BackendError> {
        Ok(self
            .access
            .lock()
            .unwrap()
            .get(&(user.to_string(), class.to_string(), resource.to_string()))
            .is_some_and(|granted| *granted >= level))
    }

    fn health(&self) -> Result<(), BackendError> {
        if *self.down.lock().unwrap() {
            Err(BackendError("down".into()))
        } else {
            Ok(())
        }
    }

    fn authenticate_with_factor(
        &self,
        origin: &zgate_gateway::Origin,
        user: &str,
        password: &Secret,
        new_password: Option<&Secret>,
        code: Option<&Secret>,
    ) -> Result<AuthOutcome, BackendError> {
        match code {
            None => self.authenticate(origin, user, password, new_password),
            Some(_) => Ok(AuthOutcome::InvalidCredentials),
        }
    }

    fn map_identity(
        &self,
        _origin: &zgate_gateway::Origin,
        _user_name: &str,
        _registry: &str,
    ) -> Result<zgate_gateway::security::IdentityOutcome, BackendError> {
        Ok(zgate_gateway::security::IdentityOutcome::NoMapping)
    }

    fn map_certificate(
        &self,
        _origin: &zgate_gateway::Origin,
        _der: &[u8],
    ) -> Result<CertOutcome, BackendError> {
        Ok(CertOutcome::NoMapping)
    }
}

pub fn signing_key(der: &[u8]) -> SigningKey {
    let probe = SigningKey::from_pkcs8(der, "probe").unwrap();
    SigningKey::from_pkcs8(der, thumbprint_kid(probe.public())).unwrap()
}

/// The token service the tests use: key RSA_A, 8 h tokens, on `clock`.
pub fn token_service(
    clock: Arc<ManualClock>,
    store: Arc<dyn RevocationStore>,
) -> Arc<TokenService> {
    Arc::new(
        TokenService::new(
            KeyRing::new(signing_key(RSA_A)),
            clock,
            TokenSettings {
                lifetime_seconds: 28800,
                domain: "security-domain".into(),
            },
            store,
        )
        .unwrap(),
    )
}

pub struct Harness {
    pub app: Gateway,
    pub clock: Arc<ManualClock>,
    pub tokens: Arc<TokenService>,
    pub memory: Option<Arc<MemoryRevocationStore>>,
}

pub fn harness_with(
    security: Arc<dyn SecurityManager>,
    store: Arc<dyn RevocationStore>,
    settings: Settings,
) -> Harness {
    let clock = Arc::new(ManualClock::new(T0));
    let tokens = token_service(clock.clone(), store);
    let app = router(AppState::new(security, tokens.clone(), settings));
    Harness {
        app,
        clock,
        tokens,
        memory: None,
    }
}

pub fn harness(security: TableSecurity) -> Harness {
    let memory = Arc::new(MemoryRevocationStore::default());
    let mut h = harness_with(Arc::new(security), memory.clone(), Settings::default());
    h.memory = Some(memory);
    h
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: http::HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
    pub fn message_number(&self) -> String {
        self.json()["messages"][0]["messageNumber"]
            .as_str()
            .unwrap()
            .to_string()
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }
    /// The token from the first Set-Cookie (as Zowe CLI takes it).
    pub fn cookie_token(&self) -> String {
        let cookie = self.header("set-cookie").expect("a Set-Cookie");
        let first = cookie.split(';').next().unwrap();
        first
            .strip_prefix("apimlAuthenticationToken=")
            .unwrap()
            .to_string()
    }
    /// Asserts an API ML error answer.
    pub fn assert_error(&self, status: u16, number: &str) {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.body);
        assert_eq!(self.header("content-type"), Some("application/json"));
        assert_eq!(self.message_number(), number, "body: {}", self.body);
        assert!(self.body.contains("\"messageKey\":\""), "{}", self.body);
        assert_eq!(self.json()["messages"][0]["messageType"], "ERROR");
    }
}

pub async fn send(app: &Gateway, request: Request<Body>) -> Reply {
    let response: Response<Body> = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    Reply {
        status,
        headers,
        body: String::from_utf8(bytes.to_vec()).unwrap(),
    }
}

pub fn basic(user: &str, password: &str) -> String {
    use base64::Engine as _;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

pub fn req(method: &str, uri: &str) -> http::request::Builder {
    Request::builder().method(method).uri(uri)
}

pub async fn login(app: &Gateway, user: &str, password: &str) -> Reply {
    send(
        app,
        req("POST", "/gateway/api/v1/auth/login")
            .header("authorization", basic(user, password))
            .body(Body::empty())
            .unwrap(),
    )
    .await
}

pub async fn query_with(app: &Gateway, token: &str) -> Reply {
    send(
        app,
        req("GET", "/gateway/api/v1/auth/query")
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await
}
