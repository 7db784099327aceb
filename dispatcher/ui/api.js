// The desk's only way to the dispatcher: /api/v1 over fetch (HttpOnly session cookie plus the
// CSRF header on every change) and the live push over server-sent events.
let csrf = sessionStorage.getItem("xl.csrf") || "";
let unauthorized = () => {};
let stream = null;

/** What to do when the session is gone (a 401 from anything but the login itself). */
export function onUnauthorized(fn) {
  unauthorized = fn;
}

export async function api(method, path, body) {
  const headers = {};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET") headers["X-CSRF-Token"] = csrf;
  const r = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
  });
  if (r.status === 401 && path !== "/api/v1/login") {
    unauthorized();
    throw new Error("401");
  }
  const text = await r.text();
  const data = text ? JSON.parse(text) : null;
  if (!r.ok) throw new Error((data && data.error) || `${r.status}`);
  return data;
}

export async function login(username, password) {
  const r = await api("POST", "/api/v1/login", { username, password });
  csrf = r.csrf;
  sessionStorage.setItem("xl.csrf", r.csrf);
}

export async function logout() {
  try {
    await api("POST", "/api/v1/logout", {});
  } catch {
    // Already logged out or unreachable: the login screen follows either way.
  }
}

/** Opens the push stream; handlers maps an event name to fn(parsed JSON data). */
export function openStream(handlers, onError) {
  closeStream();
  stream = new EventSource("/api/v1/events");
  for (const [name, fn] of Object.entries(handlers)) {
    stream.addEventListener(name, (e) => fn(e.data ? JSON.parse(e.data) : null));
  }
  stream.onerror = onError;
}

export function closeStream() {
  if (stream) {
    stream.close();
    stream = null;
  }
}
