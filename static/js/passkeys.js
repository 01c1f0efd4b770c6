// Passkey buttons. No inline script: the page marks a button with
// `data-passkey` (what it does) and `data-options` / `data-finish` (where
// to ask for the ceremony's options and where to send the credential), and
// this module does the WebAuthn call in between. Credentials travel as the
// standard WebAuthn JSON (PublicKeyCredential.toJSON()).

const csrf = () => document.querySelector('meta[name="csrf-token"]')?.content ?? "";

async function post(url, body) {
  const res = await fetch(url, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf() },
    body: JSON.stringify(body ?? {}),
  });
  // A stale session is sent to re-authenticate first (303, followed).
  if (res.redirected) {
    window.location.assign(res.url);
    return null;
  }
  return res;
}

function say(button, text, isError) {
  const out = document.getElementById(button.dataset.status || "passkey-status");
  if (!out) return;
  out.textContent = text;
  out.className = isError ? "error" : "notice";
  out.hidden = false;
}

function showCodes(codes) {
  const box = document.getElementById("passkey-recovery-codes");
  if (!box) return;
  const list = box.querySelector("ul");
  for (const code of codes) {
    const item = document.createElement("li");
    const el = document.createElement("code");
    el.className = "recovery-code";
    el.textContent = code;
    item.append(el);
    list.append(item);
  }
  box.hidden = false;
}

async function addPasskey(button) {
  const nameInput = document.getElementById("passkey-name");
  // Left empty, the server names it after this browser ("Chrome 131 on Linux").
  const name = (nameInput?.value ?? "").trim();
  const optionsRes = await post(button.dataset.options);
  if (!optionsRes) return;
  if (!optionsRes.ok) throw new Error("options");
  const { publicKey } = await optionsRes.json();
  const credential = await navigator.credentials.create({
    publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(publicKey),
  });
  const res = await post(button.dataset.finish, { name, credential: credential.toJSON() });
  if (!res) return;
  if (res.status !== 201) {
    say(button, "That passkey could not be added. Try again.", true);
    return;
  }
  const added = await res.json();
  if (added.recovery_codes) {
    say(button, `Passkey "${added.name}" added. Two-factor authentication is on.`, false);
    showCodes(added.recovery_codes);
  } else {
    window.location.assign("/account?notice=passkey-added");
  }
}

async function usePasskey(button) {
  const optionsRes = await post(button.dataset.options);
  if (!optionsRes) return;
  if (!optionsRes.ok) throw new Error("options");
  const { publicKey } = await optionsRes.json();
  const credential = await navigator.credentials.get({
    publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(publicKey),
  });
  const body = { credential: credential.toJSON() };
  if (button.dataset.next) body.next = button.dataset.next;
  const res = await post(button.dataset.finish, body);
  if (!res) return;
  if (!res.ok) {
    say(button, "That passkey was not accepted.", true);
    return;
  }
  const { redirect } = await res.json();
  window.location.assign(redirect);
}

for (const button of document.querySelectorAll("button[data-passkey]")) {
  if (!window.PublicKeyCredential) {
    button.disabled = true;
    button.title = "This browser does not support passkeys.";
    continue;
  }
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      if (button.dataset.passkey === "add") await addPasskey(button);
      else await usePasskey(button);
    } catch (e) {
      say(button, e?.name === "NotAllowedError"
        ? "The passkey request was cancelled or timed out."
        : "Something went wrong with the passkey. Try again.", true);
    } finally {
      button.disabled = false;
    }
  });
}
