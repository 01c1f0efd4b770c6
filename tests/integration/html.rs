//! Every page is well-formed HTML, signed in and out: an HTML5 parser
//! (html5ever, through `scraper`) reports no parse error, the `<title>` is
//! text only, ids are unique, no form sits inside another, and every POST
//! form carries its CSRF field.

use crate::support::*;
use scraper::{Html, Selector};
use std::collections::HashSet;

fn sel(css: &str) -> Selector {
    Selector::parse(css).expect("a selector")
}

/// Checks one rendered page; `what` names it in failures.
fn assert_well_formed(what: &str, body: &str) {
    let doc = Html::parse_document(body);
    assert!(
        doc.errors.is_empty(),
        "{what}: parse errors {:?}",
        doc.errors
    );
    let titles: Vec<_> = doc.select(&sel("head > title")).collect();
    assert_eq!(titles.len(), 1, "{what}: one <title>");
    let title: String = titles[0].text().collect();
    assert!(
        !title.contains('<') && !title.contains("{%") && title.lines().count() == 1,
        "{what}: the title is one line of text, got {title:?}"
    );
    let mut ids = HashSet::new();
    for el in doc.select(&sel("[id]")) {
        let id = el.value().id().unwrap_or_default().to_owned();
        assert!(ids.insert(id.clone()), "{what}: id `{id}` twice");
    }
    assert_eq!(
        doc.select(&sel("form form")).count(),
        0,
        "{what}: a form inside a form"
    );
    for form in doc.select(&sel("form")) {
        let method = form.value().attr("method").unwrap_or("get");
        if method.eq_ignore_ascii_case("post") {
            let token = form
                .select(&sel("input[type=hidden][name=csrf_token]"))
                .next()
                .and_then(|i| i.value().attr("value"))
                .unwrap_or_default();
            assert!(
                !token.is_empty(),
                "{what}: POST form to {:?} without its csrf_token",
                form.value().attr("action")
            );
        }
    }
}

async fn check(app: &TestApp, path: &str) {
    let res = app.get(path).await;
    assert!(
        res.header("content-type")
            .is_some_and(|t| t.starts_with("text/html")),
        "{path}: {} {}",
        res.status,
        res.body
    );
    assert_well_formed(path, &res.body);
}

#[actix_web::test]
async fn every_page_is_well_formed_html_signed_out_and_in() {
    let app = spawn_app().await;
    for path in [
        "/",
        "/login",
        "/login?next=/account",
        "/register",
        "/password/forgot",
        "/password/reset/not-a-live-link",
        "/email/verify/not-a-live-link",
        "/no-such-page",
        "/api/docs",
    ] {
        check(&app, path).await;
    }

    app.signed_in_user().await;
    for path in [
        "/",
        "/account",
        "/account?notice=welcome",
        "/account/mfa/totp",
        "/account/reauth?next=/account",
        "/logout",
        "/refresh",
        "/login",
        "/no-such-page",
    ] {
        check(&app, path).await;
    }
    // The page of recovery codes (shown once, after the set-up code).
    app.prove_addresses().await;
    let (secret, csrf) = crate::support::factors::setup_secret(&app).await;
    let code = crate::support::factors::code_now(&app, &secret);
    let res = app
        .post("/account/mfa/totp")
        .form(&[("csrf_token", csrf.as_str()), ("code", &code)])
        .send()
        .await;
    assert_well_formed("the recovery codes page", &res.body);
    check(&app, "/account").await;

    // The second step's page, for another browser of this user.
    let email = app
        .get("/account")
        .await
        .body
        .split("id=\"account-email\">")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .map(str::to_owned)
        .expect("the address on the page");
    let other = app.another_browser();
    crate::support::factors::password_step(&other, &email).await;
    check(&other, "/login/mfa").await;
}

#[test]
fn the_checker_refuses_what_it_is_for() {
    let page = |head: &str, body: &str| {
        format!("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{head}</title></head><body>{body}</body></html>")
    };
    for (head, body) in [
        ("A<b>B</b>", ""),
        ("A", "<p id=\"x\"></p><p id=\"x\"></p>"),
        ("A", "<form method=\"post\" action=\"/a\"><button>go</button></form>"),
        ("A", "<form method=\"post\"><input type=\"hidden\" name=\"csrf_token\" value=\"t\"><form></form></form>"),
    ] {
        let html = page(head, body);
        let caught = crate::support::database::expecting_panics(|| {
            std::panic::catch_unwind(|| assert_well_formed("sample", &html))
        });
        assert!(caught.is_err(), "not caught: {html}");
    }
    assert_well_formed("a good page", &page("A", "<p id=\"x\">fine</p>"));
}
