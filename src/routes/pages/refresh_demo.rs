//! `GET /refresh`: the refresh demo page (its script is
//! static/js/refresh-demo.js). Also the shortest example of a protected page:
//! a template struct with `page: PageContext`, and a handler taking `CurrentUser`.

use crate::routes::prelude::*;

#[derive(Template, WebTemplate)]
#[template(path = "refresh_demo.html")]
pub struct RefreshDemoPage {
    page: PageContext,
    email: String,
}

pub async fn refresh_demo(user: CurrentUser) -> RefreshDemoPage {
    RefreshDemoPage {
        page: user.page(),
        email: user.user.email,
    }
}
