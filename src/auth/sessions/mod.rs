//! Sessions, the revocation unit: a session's life (`lifecycle`: create,
//! touch, and `revoke`, the ONE way any session ends early), the in-process
//! revocation view that every instance keeps current (`revocation`), and the
//! cache of what a signed-in page request needs (`cache`).

pub mod cache;
mod lifecycle;
pub mod revocation;

pub use cache::SessionCache;
pub use lifecycle::{
    acr, amr, create, idle_timeout, revoke, revoke_with, set_assurance, touch, touch_due,
    touch_interval, view_window, Assurance, ClientInfo, Kind, Target, TOUCH_INTERVAL,
};
pub use revocation::RevocationView;
