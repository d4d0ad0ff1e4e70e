// passkeyd admin dashboard: a hash-routed page over the admin API (/admin/api). Every element is
// built with createElement and textContent, never from HTML strings, so nothing the API returns
// (user names, passkey names, audit details) can become markup. Elements a browser test needs
// carry stable ids or data-testid attributes; docs/admin.md lists them.

const state = { session: null, apps: [], inviteToken: null };

// ---- small DOM helpers -------------------------------------------------------------------------

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "testid") el.dataset.testid = value;
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "value") el.value = value;
    else if (key === "checked") el.checked = !!value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

function main(...children) {
  const el = document.getElementById("main");
  el.replaceChildren(...children);
}

function toast(text, kind = "ok") {
  const el = document.getElementById("toast");
  el.textContent = text;
  el.className = kind;
  el.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { el.hidden = true; }, 4000);
}

function when(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  return d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

// A destructive button asks again on its first click (no modal dialogs: they block automation).
function dangerButton(label, attrs, action) {
  const button = h("button", { type: "button", class: "danger", ...attrs }, label);
  button.addEventListener("click", async () => {
    if (button.dataset.armed !== "yes") {
      button.dataset.armed = "yes";
      button.textContent = "Click again to confirm";
      setTimeout(() => { button.dataset.armed = ""; button.textContent = label; }, 5000);
      return;
    }
    button.disabled = true;
    try { await action(); } catch (e) { showError(e); button.disabled = false; }
  });
  return button;
}

function table(testid, headers, rows, empty = "Nothing here yet.") {
  if (!rows.length) return h("p", { class: "empty", testid: `${testid}-empty` }, empty);
  return h("div", { class: "table-wrap" },
    h("table", { id: testid, testid },
      h("thead", {}, h("tr", {}, headers.map((x) => h("th", { scope: "col" }, x)))),
      h("tbody", {}, rows)));
}

function field(label, input, hint) {
  return h("label", { class: "field" }, h("span", {}, label), input, hint ? h("small", {}, hint) : null);
}

function select(id, options, value) {
  return h("select", { id, testid: id },
    options.map(([v, text]) => h("option", { value: v, selected: v === value ? "selected" : null }, text)));
}

function errorBox(id) {
  return h("p", { id, testid: id, class: "error", role: "alert", hidden: true });
}

function setError(id, e) {
  const el = document.getElementById(id);
  if (!el) return showError(e);
  el.textContent = e ? e.message : "";
  el.hidden = !e;
}

function showError(e) {
  toast(e.message || String(e), "bad");
}

// ---- the admin API -----------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, code, message) { super(message); this.status = status; this.code = code; }
}

async function api(method, path, body) {
  const headers = { "content-type": "application/json" };
  if (state.session) headers["x-csrf-token"] = state.session.admin.csrf_token;
  const response = await fetch(`/admin/api${path}`, {
    method, headers, credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 204) return null;
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = data.error || { code: "http_error", message: `HTTP ${response.status}` };
    if (response.status === 401 && error.code === "admin_session_required" && state.session) {
      state.session = null;
      route();
    }
    throw new ApiError(response.status, error.code, error.message);
  }
  return data;
}

const q = (params) => {
  const s = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") s.set(k, v);
  const text = s.toString();
  return text ? `?${text}` : "";
};

// ---- WebAuthn ----------------------------------------------------------------------------------

const b64url = {
  decode(s) {
    const base = s.replace(/-/g, "+").replace(/_/g, "/");
    const padded = base + "=".repeat((4 - (base.length % 4)) % 4);
    return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0)).buffer;
  },
  encode(buffer) {
    let text = "";
    for (const byte of new Uint8Array(buffer)) text += String.fromCharCode(byte);
    return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  },
};

function creationOptions(o) {
  if (PublicKeyCredential.parseCreationOptionsFromJSON) return PublicKeyCredential.parseCreationOptionsFromJSON(o);
  return {
    ...o,
    challenge: b64url.decode(o.challenge),
    user: { ...o.user, id: b64url.decode(o.user.id) },
    excludeCredentials: (o.excludeCredentials || []).map((c) => ({ ...c, id: b64url.decode(c.id) })),
  };
}

function requestOptions(o) {
  if (PublicKeyCredential.parseRequestOptionsFromJSON) return PublicKeyCredential.parseRequestOptionsFromJSON(o);
  return {
    ...o,
    challenge: b64url.decode(o.challenge),
    allowCredentials: (o.allowCredentials || []).map((c) => ({ ...c, id: b64url.decode(c.id) })),
  };
}

function credentialJSON(c) {
  try { if (c.toJSON) return c.toJSON(); } catch { /* older browsers: encode by hand below */ }
  const r = c.response;
  const response = { clientDataJSON: b64url.encode(r.clientDataJSON) };
  if (r.attestationObject) {
    response.attestationObject = b64url.encode(r.attestationObject);
    response.transports = r.getTransports ? r.getTransports() : [];
  } else {
    response.authenticatorData = b64url.encode(r.authenticatorData);
    response.signature = b64url.encode(r.signature);
    if (r.userHandle) response.userHandle = b64url.encode(r.userHandle);
  }
  return {
    id: c.id, rawId: b64url.encode(c.rawId), type: c.type,
    authenticatorAttachment: c.authenticatorAttachment || undefined,
    clientExtensionResults: c.getClientExtensionResults(), response,
  };
}

// ---- sign-in and invites -----------------------------------------------------------------------

function signedIn(session) {
  state.session = session;
  if (location.hash === "" || location.hash.startsWith("#invite")) location.hash = "#/overview";
  route();
}

function signinPage() {
  const button = h("button", { type: "button", id: "signin-button", testid: "signin-button", class: "primary big" },
    "Sign in with a passkey");
  button.addEventListener("click", async () => {
    setError("signin-error", null);
    button.disabled = true;
    try {
      const started = await api("POST", "/signin/start", {});
      const credential = await navigator.credentials.get({ publicKey: requestOptions(started.options) });
      const session = await api("POST", "/signin/finish", {
        ceremony_id: started.ceremony_id, credential: credentialJSON(credential),
      });
      signedIn(session);
    } catch (e) {
      setError("signin-error", e);
    } finally {
      button.disabled = false;
    }
  });
  main(h("section", { class: "card narrow", id: "signin-page", testid: "signin-page" },
    h("h1", {}, "Sign in"),
    h("p", {}, "Admins sign in with a passkey. There are no passwords."),
    button,
    errorBox("signin-error"),
    h("p", { class: "muted" }, "No passkey yet? Ask an admin for an invite link, or run ",
      h("code", {}, "passkeyd admin invite"), " on the server.")));
}

function invitePage() {
  const button = h("button", { type: "button", id: "invite-register", testid: "invite-register", class: "primary big" },
    "Create my passkey");
  button.addEventListener("click", async () => {
    setError("invite-error", null);
    button.disabled = true;
    try {
      const token = state.inviteToken;
      const started = await api("POST", "/invites/registration/start", { token });
      const credential = await navigator.credentials.create({ publicKey: creationOptions(started.options) });
      const session = await api("POST", "/invites/registration/finish", {
        token, ceremony_id: started.ceremony_id, credential: credentialJSON(credential),
      });
      state.inviteToken = null;
      signedIn(session);
      toast("Welcome! Your passkey is registered.");
    } catch (e) {
      setError("invite-error", e);
    } finally {
      button.disabled = false;
    }
  });
  main(h("section", { class: "card narrow", id: "invite-page", testid: "invite-page" },
    h("h1", {}, "You are invited"),
    h("p", {}, "Create a passkey to become an admin of this passkeyd. The link works once."),
    button,
    errorBox("invite-error")));
}

// ---- overview ----------------------------------------------------------------------------------

function appOptions(all = "All apps") {
  return [["", all], ...state.apps.map((a) => [a.id, `${a.name} (${a.id})`])];
}

async function loadApps() {
  state.apps = (await api("GET", "/apps")).data;
}

function chart(days) {
  const series = [
    ["registrations", "Registrations", "s1"],
    ["signins", "Sign-ins", "s2"],
    ["failures", "Failures", "s3"],
  ];
  const W = 720, H = 240, L = 40, R = 12, T = 12, B = 28;
  const max = Math.max(1, ...days.flatMap((d) => series.map(([k]) => d[k])));
  const top = Math.ceil(max / 4) * 4 || 4;
  const x = (i) => L + (days.length === 1 ? (W - L - R) / 2 : (i * (W - L - R)) / (days.length - 1));
  const y = (v) => T + (H - T - B) * (1 - v / top);
  const ns = "http://www.w3.org/2000/svg";
  const s = (tag, attrs, text) => {
    const el = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
    if (text !== undefined) el.textContent = text;
    return el;
  };
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", id: "overview-chart", "data-testid": "overview-chart",
    "aria-label": "Registrations, sign-ins and failures per day" });
  for (let i = 0; i <= 4; i++) {
    const v = (top * i) / 4;
    svg.append(s("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), class: "grid" }));
    svg.append(s("text", { x: L - 6, y: y(v) + 4, class: "axis", "text-anchor": "end" }, String(v)));
  }
  const step = Math.max(1, Math.ceil(days.length / 8));
  days.forEach((d, i) => {
    // Every step-th day, and the last one unless it would collide with the one before.
    const last = i === days.length - 1;
    if ((i % step === 0 && (last || days.length - 1 - i >= step / 2 || days.length <= 8)) || last) {
      const anchor = last && days.length > 1 ? "end" : i === 0 && days.length > 1 ? "start" : "middle";
      svg.append(s("text", { x: x(i), y: H - 8, class: "axis", "text-anchor": anchor }, d.date.slice(5)));
    }
  });
  for (const [key, , cls] of series) {
    const points = days.map((d, i) => `${x(i).toFixed(1)},${y(d[key]).toFixed(1)}`).join(" ");
    svg.append(s("polyline", { points, class: `line ${cls}` }));
    days.forEach((d, i) => {
      if (d[key] > 0) {
        const dot = s("circle", { cx: x(i), cy: y(d[key]), r: 3, class: `dot ${cls}` });
        dot.append(s("title", {}, `${d.date}: ${d[key]} ${key}`));
        svg.append(dot);
      }
    });
  }
  const legend = h("ul", { class: "legend" },
    series.map(([key, label, cls]) => h("li", {}, h("span", { class: `swatch ${cls}` }), label,
      h("b", { testid: `total-${key}` }, String(days.reduce((n, d) => n + d[key], 0))))));
  return h("div", { class: "chart" }, svg, legend);
}

async function overviewPage(params) {
  await loadApps();
  const app = params.get("app") || "";
  const days = params.get("days") || "30";
  const data = await api("GET", `/overview${q({ app, days })}`);
  const appSelect = select("overview-app", appOptions(), app);
  const daySelect = select("overview-days", [["7", "7 days"], ["30", "30 days"], ["90", "90 days"]], days);
  const go = () => { location.hash = `#/overview${q({ app: appSelect.value, days: daySelect.value })}`; };
  appSelect.addEventListener("change", go);
  daySelect.addEventListener("change", go);
  const total = data.synced + data.device_bound;
  const share = total ? Math.round((data.synced * 100) / total) : 0;
  main(
    h("div", { class: "head" }, h("h1", {}, "Overview"), h("div", { class: "filters" }, appSelect, daySelect)),
    h("section", { class: "card", testid: "overview-activity" }, h("h2", {}, "Ceremonies per day"), chart(data.days)),
    h("div", { class: "grid2" },
      h("section", { class: "card" }, h("h2", {}, "Failures by error code"),
        table("failures-by-code", ["Code", "Count"],
          data.failures_by_code.map((c) => h("tr", {}, h("td", {}, h("code", {}, c.name)), h("td", { class: "num" }, c.count))),
          "No failures in this period.")),
      h("section", { class: "card" }, h("h2", {}, "Passkeys"),
        h("div", { class: "share", id: "synced-share", testid: "synced-share" },
          h("div", { class: "share-bar", role: "img", "aria-label": `${share}% synced` },
            h("span", { class: "synced", style: null, "data-share": share })),
          h("p", {}, h("b", {}, `${data.synced}`), " synced · ", h("b", {}, `${data.device_bound}`), " device-bound",
            total ? ` (${share}% synced)` : "")),
        table("models", ["Authenticator model", "Passkeys"],
          data.models.map((m) => h("tr", {}, h("td", {}, m.name), h("td", { class: "num" }, m.count))),
          "No passkeys yet."))),
  );
  // The CSP forbids inline styles, so the bar's width is set through the CSSOM.
  const bar = document.querySelector("#synced-share .synced");
  if (bar) bar.style.width = `${share}%`;
}

// ---- apps and keys -----------------------------------------------------------------------------

const SETTINGS = {
  user_verification: ["required", "preferred", "discouraged"],
  attestation: ["none", "indirect", "direct", "enterprise"],
  resident_key: ["required", "preferred", "discouraged"],
  counter_policy: ["reject", "warn"],
  backup_policy: ["any", "device_bound"],
};
const SETTING_LABELS = {
  user_verification: "User verification",
  attestation: "Attestation",
  resident_key: "Discoverable credential (resident key)",
  counter_policy: "Counter rollback",
  backup_policy: "Synced passkeys",
};

function appForm(app) {
  const s = app || { rp_id: "", rp_name: "", origins: [], user_verification: "preferred", attestation: "none",
    resident_key: "required", algorithms: [-7, -8, -35, -257, -37], counter_policy: "reject", backup_policy: "any",
    max_passkeys_per_user: 5, challenge_ttl_seconds: 300 };
  const input = (id, value, attrs = {}) => h("input", { id, testid: id, value: value ?? "", ...attrs });
  const managed = app && app.managed_by_config;
  const form = h("form", { id: "app-form", testid: "app-form", class: "card form" },
    h("h2", {}, app ? `Settings of ${app.name}` : "New app"),
    managed ? h("p", { class: "note", testid: "app-managed" }, "This app is declared in the configuration file; change it there.") : null,
    h("div", { class: "fields" },
      app ? null : field("Id (optional)", input("app-id", "", { placeholder: "shop", autocomplete: "off" }), "a-z, 0-9, _ and -"),
      field("Name", input("app-name", app ? app.name : "", { required: true })),
      field("RP ID", input("app-rp-id", s.rp_id, { required: true, placeholder: "example.com" }), "The domain passkeys are bound to"),
      field("RP name", input("app-rp-name", s.rp_name, { required: true }), "Shown by authenticators"),
      field("Origins", h("textarea", { id: "app-origins", testid: "app-origins", rows: 3, placeholder: "https://example.com" },
        s.origins.join("\n")), "One per line"),
      ...Object.entries(SETTINGS).map(([key, values]) =>
        field(SETTING_LABELS[key], select(`app-${key.replace(/_/g, "-")}`, values.map((v) => [v, v]), s[key]))),
      field("Algorithms", input("app-algorithms", s.algorithms.join(", ")), "COSE ids, most preferred first"),
      field("Passkeys per user", input("app-max-passkeys", s.max_passkeys_per_user, { type: "number", min: 1, max: 10 })),
      field("Ceremony lifetime (s)", input("app-challenge-ttl", s.challenge_ttl_seconds, { type: "number", min: 30, max: 3600 })),
    ),
    errorBox("app-error"),
    h("div", { class: "actions" },
      h("button", { type: "submit", id: "app-save", testid: "app-save", class: "primary", disabled: managed ? "disabled" : null },
        app ? "Save changes" : "Create app")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    setError("app-error", null);
    const val = (id) => document.getElementById(id).value;
    const settings = {
      rp_id: val("app-rp-id").trim(),
      rp_name: val("app-rp-name").trim(),
      origins: val("app-origins").split("\n").map((o) => o.trim()).filter(Boolean),
      algorithms: val("app-algorithms").split(",").map((a) => a.trim()).filter(Boolean).map(Number),
      max_passkeys_per_user: Number(val("app-max-passkeys")),
      challenge_ttl_seconds: Number(val("app-challenge-ttl")),
    };
    for (const key of Object.keys(SETTINGS)) settings[key] = val(`app-${key.replace(/_/g, "-")}`);
    try {
      if (app) {
        await api("PATCH", `/apps/${encodeURIComponent(app.id)}`, { name: val("app-name"), settings });
        toast("Saved.");
        route();
      } else {
        const created = await api("POST", "/apps", { id: val("app-id").trim() || null, name: val("app-name"), settings });
        toast(`App ${created.id} created.`);
        location.hash = `#/apps/${encodeURIComponent(created.id)}`;
      }
    } catch (e) {
      setError("app-error", e);
    }
  });
  return form;
}

async function appsPage() {
  await loadApps();
  main(
    h("div", { class: "head" }, h("h1", {}, "Apps")),
    h("section", { class: "card" },
      table("apps-table", ["App", "RP ID", "Origins", "Created"],
        state.apps.map((a) => h("tr", { "data-app-id": a.id },
          h("td", {}, h("a", { href: `#/apps/${encodeURIComponent(a.id)}` }, a.name), h("div", { class: "muted mono" }, a.id)),
          h("td", {}, a.rp_id), h("td", {}, a.origins.join(", ")), h("td", {}, when(a.created_at)))))),
    appForm(null));
}

async function appPage(id) {
  const app = await api("GET", `/apps/${encodeURIComponent(id)}`);
  const keys = (await api("GET", `/apps/${encodeURIComponent(id)}/keys`)).data;
  const name = h("input", { id: "key-name", testid: "key-name", placeholder: "Label (optional)" });
  const created = h("div", { id: "key-created", testid: "key-created", hidden: true, class: "secret" });
  const create = h("button", { type: "button", id: "key-create", testid: "key-create", class: "primary" }, "Create key");
  create.addEventListener("click", async () => {
    try {
      const k = await api("POST", `/apps/${encodeURIComponent(id)}/keys`, { name: name.value.trim() || null });
      await appPage(id);
      const box = document.getElementById("key-created");
      box.replaceChildren(h("p", {}, "The key is shown this once; copy it now."),
        h("code", { id: "key-secret", testid: "key-secret" }, k.key));
      box.hidden = false;
    } catch (e) { showError(e); }
  });
  main(
    h("div", { class: "head" }, h("h1", {}, app.name, " ", h("span", { class: "muted mono" }, app.id)),
      h("div", { class: "filters" },
        h("a", { class: "button", href: `#/users${q({ app: id })}`, testid: "app-users-link" }, "Users"),
        h("a", { class: "button", href: `#/webhooks${q({ app: id })}`, testid: "app-webhooks-link" }, "Webhooks"))),
    appForm(app),
    h("section", { class: "card" }, h("h2", {}, "API keys"),
      h("div", { class: "inline" }, name, create), created,
      table("keys-table", ["Prefix", "Label", "Created", "Last used", "Status", ""],
        keys.map((k) => h("tr", { "data-key-id": k.id },
          h("td", { class: "mono" }, `${k.prefix}…`), h("td", {}, k.name || "—"), h("td", {}, when(k.created_at)),
          h("td", {}, when(k.last_used_at)), h("td", {}, k.revoked_at ? `revoked ${when(k.revoked_at)}` : "active"),
          h("td", {}, k.revoked_at ? null : dangerButton("Revoke", { "data-action": "revoke-key", testid: `revoke-${k.id}` },
            async () => { await api("DELETE", `/apps/${encodeURIComponent(id)}/keys/${encodeURIComponent(k.id)}`); toast("Key revoked."); appPage(id); })))),
        "No keys yet.")),
    app.managed_by_config ? null : h("section", { class: "card danger-zone" }, h("h2", {}, "Delete this app"),
      h("p", {}, "Its users, passkeys, keys and webhooks go with it."),
      dangerButton("Delete app", { id: "app-delete", testid: "app-delete" }, async () => {
        await api("DELETE", `/apps/${encodeURIComponent(id)}`);
        toast("App deleted.");
        location.hash = "#/apps";
      })));
}

// ---- users and passkeys ------------------------------------------------------------------------

async function usersPage(params) {
  await loadApps();
  const app = params.get("app") || (state.apps[0] && state.apps[0].id) || "";
  const text = params.get("q") || "";
  const appSelect = select("users-app", appOptions("Choose an app").slice(1), app);
  const search = h("input", { id: "user-search", testid: "user-search", type: "search", value: text,
    placeholder: "External id or username" });
  const form = h("form", { class: "filters", id: "user-search-form" }, appSelect, search,
    h("button", { type: "submit", id: "user-search-button", testid: "user-search-button", class: "primary" }, "Search"));
  form.addEventListener("submit", (e) => { e.preventDefault(); location.hash = `#/users${q({ app: appSelect.value, q: search.value.trim() })}`; });
  appSelect.addEventListener("change", () => form.requestSubmit());
  if (!app) return main(h("h1", {}, "Users"), h("p", { class: "empty" }, "Create an app first."));
  const users = (await api("GET", `/apps/${encodeURIComponent(app)}/users${q({ q: text })}`)).data;
  main(h("div", { class: "head" }, h("h1", {}, "Users"), form),
    h("section", { class: "card" },
      table("users-table", ["External id", "Username", "Display name", "Created"],
        users.map((u) => h("tr", { "data-external-id": u.external_id },
          h("td", {}, h("a", { href: `#/users/${encodeURIComponent(app)}/${encodeURIComponent(u.external_id)}` }, u.external_id)),
          h("td", {}, u.username || "—"), h("td", {}, u.display_name || "—"), h("td", {}, when(u.created_at)))),
        text ? "No user matches." : "No users yet."),
      users.length === 50 ? h("p", { class: "muted" }, "Showing the first 50; search to narrow down.") : null));
}

function passkeyRow(app, user, p) {
  const base = `/apps/${encodeURIComponent(app)}/passkeys/${encodeURIComponent(p.id)}`;
  const rename = h("button", { type: "button", "data-action": "rename-passkey", testid: `rename-${p.id}` }, "Rename");
  rename.addEventListener("click", () => {
    const input = h("input", { value: p.name, "data-testid": `rename-input-${p.id}`, maxlength: 64 });
    const save = h("button", { type: "button", class: "primary", "data-testid": `rename-save-${p.id}` }, "Save");
    save.addEventListener("click", async () => {
      try { await api("PATCH", base, { name: input.value.trim() || null }); toast("Renamed."); route(); } catch (e) { showError(e); }
    });
    rename.replaceWith(h("span", { class: "inline" }, input, save));
  });
  const facts = [
    ["Id", p.id], ["Credential id", p.credential_id], ["Model", p.authenticator_name || "Unknown"], ["AAGUID", p.aaguid],
    ["Synced", p.backup_eligible ? (p.backup_state ? "yes (backed up)" : "eligible, not backed up") : "no, device-bound"],
    ["Transports", p.transports.join(", ") || "—"], ["Attachment", p.authenticator_attachment || "—"],
    ["Discoverable", p.discoverable === null ? "not reported" : String(p.discoverable)],
    ["User verified at registration", String(p.user_verified)],
    ["Attestation", `${p.attestation_format} (${p.attestation_type})`], ["Algorithm", String(p.algorithm)],
    ["Sign count", String(p.sign_count)], ["Created", when(p.created_at)], ["Updated", when(p.updated_at)],
    ["Last used", when(p.last_used_at)],
  ];
  return h("article", { class: "passkey", "data-passkey-id": p.id, testid: `passkey-${p.id}` },
    h("header", {}, h("h3", {}, p.name, p.name_is_custom ? null : h("span", { class: "muted" }, " (generated)")),
      h("div", { class: "inline" }, rename,
        dangerButton("Delete", { "data-action": "delete-passkey", testid: `delete-${p.id}` }, async () => {
          await api("DELETE", base); toast("Passkey deleted."); route();
        }))),
    h("dl", {}, facts.map(([k, v]) => [h("dt", {}, k), h("dd", { class: k.includes("id") || k === "AAGUID" ? "mono" : null }, v)])));
}

async function userPage(app, externalId) {
  const path = `/apps/${encodeURIComponent(app)}/users/${encodeURIComponent(externalId)}`;
  const detail = await api("GET", path);
  const u = detail.user;
  main(
    h("div", { class: "head" }, h("h1", {}, u.username || u.external_id),
      h("a", { class: "button", href: `#/users${q({ app })}` }, "All users")),
    h("section", { class: "card", id: "user-detail", testid: "user-detail" },
      h("dl", { class: "facts" },
        h("dt", {}, "App"), h("dd", { class: "mono" }, app),
        h("dt", {}, "External id"), h("dd", { class: "mono", testid: "user-external-id" }, u.external_id),
        h("dt", {}, "Username"), h("dd", {}, u.username || "—"),
        h("dt", {}, "Display name"), h("dd", {}, u.display_name || "—"),
        h("dt", {}, "Created"), h("dd", {}, when(u.created_at))),
      h("div", { class: "actions" },
        h("a", { class: "button", href: `#/audit${q({ app, user: u.external_id })}`, testid: "user-audit-link" }, "Audit log"),
        dangerButton("Revoke sessions", { id: "revoke-sessions", testid: "revoke-sessions" }, async () => {
          const r = await api("DELETE", `${path}/sessions`); toast(`${r.revoked} sessions revoked.`); route();
        }),
        dangerButton("Delete all passkeys", { id: "delete-all-passkeys", testid: "delete-all-passkeys" }, async () => {
          const r = await api("DELETE", `${path}/passkeys`); toast(`${r.deleted} passkeys deleted.`); route();
        }),
        dangerButton("Delete user", { id: "delete-user", testid: "delete-user" }, async () => {
          await api("DELETE", path); toast("User deleted."); location.hash = `#/users${q({ app })}`;
        }))),
    h("h2", {}, `Passkeys (${detail.passkeys.length})`),
    h("div", { id: "passkeys", testid: "passkeys", class: "passkeys" },
      detail.passkeys.length ? detail.passkeys.map((p) => passkeyRow(app, u, p)) : h("p", { class: "empty" }, "No passkeys.")));
}

// ---- audit log ---------------------------------------------------------------------------------

const EVENTS = ["passkey.created", "registration.failed", "signin.succeeded", "signin.failed", "passkey.renamed",
  "passkey.deleted", "user.deleted", "session.revoked", "key.created", "key.revoked", "app.created", "app.updated", "app.deleted",
  "webhook.created", "webhook.updated", "webhook.deleted", "admin.invited", "admin.passkey.created",
  "admin.registration.failed", "admin.signin.succeeded", "admin.signin.failed", "admin.signed_out", "admin.removed",
  "admin.invite_withdrawn"];

function localInput(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
}

async function auditPage(params) {
  await loadApps();
  const filters = {
    app: params.get("app") || "", event: params.get("event") || "", user: params.get("user") || "",
    outcome: params.get("outcome") || "", since: params.get("since") || "", until: params.get("until") || "",
  };
  const f = {
    app: select("audit-app", appOptions(), filters.app),
    event: select("audit-event", [["", "All events"], ...EVENTS.map((e) => [e, e])], filters.event),
    user: h("input", { id: "audit-user", testid: "audit-user", value: filters.user, placeholder: "User (external id)" }),
    outcome: select("audit-outcome", [["", "Any outcome"], ["success", "success"], ["failure", "failure"]], filters.outcome),
    since: h("input", { id: "audit-since", testid: "audit-since", type: "datetime-local", value: localInput(filters.since), "aria-label": "From" }),
    until: h("input", { id: "audit-until", testid: "audit-until", type: "datetime-local", value: localInput(filters.until), "aria-label": "Until" }),
  };
  const current = () => ({
    app: f.app.value, event: f.event.value, user: f.user.value.trim(), outcome: f.outcome.value,
    since: f.since.value ? new Date(f.since.value).toISOString() : "",
    until: f.until.value ? new Date(f.until.value).toISOString() : "",
  });
  const form = h("form", { class: "filters wrap", id: "audit-filters" }, Object.values(f),
    h("button", { type: "submit", id: "audit-apply", testid: "audit-apply", class: "primary" }, "Filter"),
    h("a", { class: "button", id: "audit-export", testid: "audit-export", href: `/admin/api/audit/export${q(filters)}`,
      download: "passkeyd-audit.jsonl" }, "Export JSON lines"));
  form.addEventListener("submit", (e) => { e.preventDefault(); location.hash = `#/audit${q(current())}`; });
  const tbody = h("tbody", {});
  const detail = h("section", { class: "card", id: "audit-detail", testid: "audit-detail", hidden: true });
  const more = h("button", { type: "button", id: "audit-more", testid: "audit-more", hidden: true }, "Older entries");
  let cursor = null;
  const load = async () => {
    const page = await api("GET", `/audit${q({ ...filters, cursor, limit: 50 })}`);
    for (const e of page.data) {
      const row = h("tr", { "data-audit-id": e.id, class: e.outcome === "failure" ? "failure" : null, tabindex: 0 },
        h("td", {}, when(e.at)), h("td", {}, h("code", {}, e.event)),
        h("td", {}, e.outcome === "failure" ? h("span", { class: "pill bad" }, e.error_code || "failure") : h("span", { class: "pill ok" }, "success")),
        h("td", { class: "mono" }, e.app_id || "—"), h("td", { class: "mono" }, e.external_id || "—"),
        h("td", { class: "mono" }, e.actor));
      const open = () => showAuditEntry(detail, e);
      row.addEventListener("click", open);
      row.addEventListener("keydown", (ev) => { if (ev.key === "Enter") open(); });
      tbody.append(row);
    }
    cursor = page.next_cursor;
    more.hidden = !cursor;
    if (!tbody.children.length) tbody.append(h("tr", {}, h("td", { colspan: 6, class: "empty" }, "No entries match.")));
  };
  more.addEventListener("click", () => load().catch(showError));
  main(h("div", { class: "head" }, h("h1", {}, "Audit log")), form, detail,
    h("section", { class: "card" }, h("div", { class: "table-wrap" },
      h("table", { id: "audit-table", testid: "audit-table" },
        h("thead", {}, h("tr", {}, ["Time", "Event", "Outcome", "App", "User", "Actor"].map((x) => h("th", { scope: "col" }, x)))),
        tbody)), more));
  await load();
}

function showAuditEntry(panel, e) {
  const rows = [["Id", e.id], ["Time", `${when(e.at)} (${e.at})`], ["Event", e.event], ["Outcome", e.outcome],
    ["Error code", e.error_code || "—"], ["App", e.app_id || "—"], ["User", e.external_id || "—"],
    ["Passkey", e.passkey_id || "—"], ["Actor", e.actor], ["Client IP", e.ip || "—"], ["User-Agent", e.user_agent || "—"]];
  panel.replaceChildren(
    h("div", { class: "head" }, h("h2", {}, "Entry"),
      h("button", { type: "button", class: "quiet", testid: "audit-detail-close", onclick: () => { panel.hidden = true; } }, "Close")),
    h("dl", { class: "facts" }, rows.map(([k, v]) => [h("dt", {}, k), h("dd", { class: "mono" }, v)])),
    h("pre", { testid: "audit-detail-json" }, JSON.stringify(e.detail, null, 2)));
  panel.hidden = false;
  panel.scrollIntoView({ behavior: "smooth", block: "start" });
}

// ---- webhooks ----------------------------------------------------------------------------------

async function webhooksPage(params) {
  await loadApps();
  const app = params.get("app") || (state.apps[0] && state.apps[0].id) || "";
  const appSelect = select("webhooks-app", appOptions("Choose an app").slice(1), app);
  appSelect.addEventListener("change", () => { location.hash = `#/webhooks${q({ app: appSelect.value })}`; });
  if (!app) return main(h("h1", {}, "Webhooks"), h("p", { class: "empty" }, "Create an app first."));
  const base = `/apps/${encodeURIComponent(app)}/webhooks`;
  const endpoints = (await api("GET", base)).data;
  const url = h("input", { id: "webhook-url", testid: "webhook-url", placeholder: "http://receiver.internal:9000/passkeyd", required: true });
  const description = h("input", { id: "webhook-description", testid: "webhook-description", placeholder: "Note (optional)" });
  const events = state.session.webhook_events.map((e) =>
    h("label", { class: "check" }, h("input", { type: "checkbox", name: "webhook-event", value: e, "data-testid": `webhook-event-${e}`,
      checked: ["passkey.created", "passkey.deleted", "user.deleted"].includes(e) }), e));
  const secret = h("div", { id: "webhook-secret", testid: "webhook-secret", class: "secret", hidden: true });
  const form = h("form", { class: "card form", id: "webhook-form", testid: "webhook-form" },
    h("h2", {}, "New endpoint"),
    h("div", { class: "fields" }, field("URL", url, "http:// only; deliveries are signed"), field("Note", description)),
    h("fieldset", { class: "events" }, h("legend", {}, "Events"), events),
    errorBox("webhook-error"),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary", id: "webhook-create", testid: "webhook-create" }, "Add endpoint")),
    secret);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    setError("webhook-error", null);
    const chosen = [...form.querySelectorAll("input[name=webhook-event]:checked")].map((i) => i.value);
    try {
      const created = await api("POST", base, { url: url.value.trim(), events: chosen, description: description.value.trim() || null });
      await webhooksPage(params);
      const box = document.getElementById("webhook-secret");
      box.replaceChildren(h("p", {}, "Signing secret, shown this once:"), h("code", { testid: "webhook-secret-value" }, created.secret));
      box.hidden = false;
    } catch (e) { setError("webhook-error", e); }
  });
  const deliveries = h("section", { class: "card", id: "deliveries", testid: "deliveries", hidden: true });
  main(h("div", { class: "head" }, h("h1", {}, "Webhooks"), h("div", { class: "filters" }, appSelect)),
    h("section", { class: "card" },
      table("webhooks-table", ["URL", "Events", "Status", ""],
        endpoints.map((w) => h("tr", { "data-webhook-id": w.id },
          h("td", { class: "mono" }, w.url, w.description ? h("div", { class: "muted" }, w.description) : null),
          h("td", {}, w.events.join(", ")),
          h("td", {}, w.enabled ? h("span", { class: "pill ok" }, "enabled") : h("span", { class: "pill" }, "paused")),
          h("td", { class: "inline" },
            h("button", { type: "button", "data-action": "show-deliveries", testid: `deliveries-${w.id}`,
              onclick: () => showDeliveries(deliveries, app, w).catch(showError) }, "Deliveries"),
            h("button", { type: "button", "data-action": "toggle-webhook", testid: `toggle-${w.id}`, onclick: async () => {
              try {
                await api("PATCH", `${base}/${encodeURIComponent(w.id)}`, { url: w.url, events: w.events, enabled: !w.enabled, description: w.description });
                webhooksPage(params);
              } catch (e) { showError(e); }
            } }, w.enabled ? "Pause" : "Resume"),
            dangerButton("Delete", { "data-action": "delete-webhook", testid: `delete-webhook-${w.id}` }, async () => {
              await api("DELETE", `${base}/${encodeURIComponent(w.id)}`); toast("Endpoint deleted."); webhooksPage(params);
            })))),
        "No endpoints yet.")),
    deliveries, form);
}

async function showDeliveries(panel, app, w) {
  const list = (await api("GET", `/apps/${encodeURIComponent(app)}/webhooks/${encodeURIComponent(w.id)}/deliveries`)).data;
  panel.replaceChildren(h("div", { class: "head" }, h("h2", {}, `Deliveries to ${w.url}`),
    h("button", { type: "button", class: "quiet", onclick: () => showDeliveries(panel, app, w).catch(showError) }, "Refresh")),
  table("deliveries-table", ["Queued", "Event", "Status", "Attempts"],
    list.map((d) => h("tr", { "data-delivery-id": d.id },
      h("td", {}, when(d.created_at)), h("td", {}, h("code", {}, d.event)),
      h("td", {}, h("span", { class: `pill ${d.status === "succeeded" ? "ok" : d.status === "failed" ? "bad" : ""}` }, d.status),
        d.next_attempt_at ? h("div", { class: "muted" }, `next ${when(d.next_attempt_at)}`) : null),
      h("td", {}, h("ol", { class: "attempts" }, d.attempt_log.map((a) =>
        h("li", {}, `${when(a.at)} — ${a.status_code ?? "no answer"}${a.error ? `: ${a.error}` : ""} (${a.duration_ms} ms)`)))))),
    "Nothing delivered yet."));
  panel.hidden = false;
}

// ---- admins ------------------------------------------------------------------------------------

async function adminsPage() {
  const admins = (await api("GET", "/admins")).data;
  const invites = (await api("GET", "/invites")).data;
  const name = h("input", { id: "invite-name", testid: "invite-name", placeholder: "Their name" });
  const link = h("div", { id: "invite-link", testid: "invite-link", class: "secret", hidden: true });
  const create = h("button", { type: "button", id: "invite-create", testid: "invite-create", class: "primary" }, "Create invite link");
  create.addEventListener("click", async () => {
    try {
      const made = await api("POST", "/invites", { name: name.value.trim() || null });
      await adminsPage();
      const box = document.getElementById("invite-link");
      box.replaceChildren(h("p", {}, `Send this link; it works once, until ${when(made.expires_at)}:`),
        h("code", { testid: "invite-link-value" }, made.link));
      box.hidden = false;
    } catch (e) { showError(e); }
  });
  main(h("div", { class: "head" }, h("h1", {}, "Admins")),
    h("section", { class: "card" },
      table("admins-table", ["Name", "Id", "Passkeys", "Joined", ""],
        admins.map((a) => h("tr", { "data-admin-id": a.id },
          h("td", {}, a.name, a.id === state.session.admin.id ? h("span", { class: "pill" }, "you") : null),
          h("td", { class: "mono" }, a.id), h("td", { class: "num" }, a.passkeys), h("td", {}, when(a.created_at)),
          h("td", {}, dangerButton("Remove", { "data-action": "remove-admin", testid: `remove-admin-${a.id}` }, async () => {
            await api("DELETE", `/admins/${encodeURIComponent(a.id)}`); toast("Admin removed."); adminsPage();
          })))))),
    h("section", { class: "card" }, h("h2", {}, "Invite an admin"),
      h("div", { class: "inline" }, name, create), link,
      table("invites-table", ["Name", "Invited by", "Expires", ""],
        invites.map((i) => h("tr", { "data-invite-id": i.id },
          h("td", {}, i.name || "—"), h("td", { class: "mono" }, i.created_by || "—"), h("td", {}, when(i.expires_at)),
          h("td", {}, dangerButton("Withdraw", { "data-action": "withdraw-invite", testid: `withdraw-${i.id}` }, async () => {
            await api("DELETE", `/invites/${encodeURIComponent(i.id)}`); adminsPage();
          })))),
        "No open invites.")));
}

// ---- routing -----------------------------------------------------------------------------------

async function route() {
  const hash = location.hash;
  if (hash.startsWith("#invite=")) {
    // Keep the token out of the address bar and history.
    state.inviteToken = decodeURIComponent(hash.slice("#invite=".length));
    history.replaceState(null, "", `${location.pathname}#invite`);
  }
  const signedIn = !!state.session;
  document.getElementById("nav").hidden = !signedIn;
  document.getElementById("who").hidden = !signedIn;
  if (!signedIn) {
    return state.inviteToken ? invitePage() : signinPage();
  }
  document.getElementById("admin-name").textContent = state.session.admin.name;
  const [path, query = ""] = hash.replace(/^#\/?/, "").split("?");
  const params = new URLSearchParams(query);
  const parts = path.split("/").map(decodeURIComponent);
  for (const a of document.querySelectorAll("#nav a")) {
    a.classList.toggle("active", a.getAttribute("href") === `#/${parts[0]}`);
  }
  try {
    switch (parts[0]) {
      case "apps": return await (parts[1] ? appPage(parts[1]) : appsPage());
      case "users": return await (parts[2] ? userPage(parts[1], parts[2]) : usersPage(params));
      case "audit": return await auditPage(params);
      case "webhooks": return await webhooksPage(params);
      case "admins": return await adminsPage();
      default: return await overviewPage(params);
    }
  } catch (e) {
    main(h("section", { class: "card" }, h("h1", {}, "Something went wrong"),
      h("p", { class: "error", testid: "page-error" }, e.message)));
  }
}

document.getElementById("signout").addEventListener("click", async () => {
  try { await api("POST", "/signout", {}); } catch { /* the session is over either way */ }
  state.session = null;
  location.hash = "";
  route();
});
window.addEventListener("hashchange", () => route());

(async () => {
  try {
    state.session = await api("GET", "/session");
  } catch {
    state.session = null;
  }
  route();
})();
