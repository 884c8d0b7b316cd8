// The desktop shell's own page. It runs at the Wails origin, where the Go
// methods of package app are bound (window.go.app.Host or window.go.app.Join),
// and it ends by navigating the window to a Team Chat server's own URL.
// Everything shown here that comes from the network (class names, hosts) is
// set with textContent, never as HTML: this page can call Go.
"use strict";

const $ = (sel, root = document) => root.querySelector(sel);

function show(id) {
  const main = $("#app");
  main.replaceChildren($("#" + id).content.cloneNode(true));
  return main;
}

function message(err) {
  if (err == null) return "Unknown error";
  if (typeof err === "string") return err;
  return err.message || String(err);
}

// Bindings are injected by the Wails runtime shortly after the page loads.
function bindings(timeoutMs = 10000) {
  const start = Date.now();
  return new Promise((resolve, reject) => {
    (function poll() {
      const go = window.go && window.go.app;
      if (go && (go.Host || go.Join)) return resolve(go);
      if (Date.now() - start > timeoutMs) return reject(new Error("The desktop runtime did not start."));
      setTimeout(poll, 50);
    })();
  });
}

// ---- host mode: first-run setup, errors, then the console ----------------

async function host(api) {
  const st = await api.State();
  if (st.phase === "setup") return setup(api);
  if (st.phase === "error") return fatal(st);
  return openConsole(api);
}

function fatal(st) {
  show("tpl-error");
  $("#fatal").textContent = st.error;
  $("#fatal-hint").textContent = "Data folder: " + st.data_dir;
  const quit = $("#quit");
  quit.addEventListener("click", () => window.runtime.Quit());
  quit.focus();
}

function setup(api) {
  show("tpl-setup");
  const form = $("#setup-form");
  const errorBox = $("#setup-error");
  const submit = $("#setup-submit");
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = new FormData(form);
    const values = ["class", "display", "username", "password"].map((k) => String(f.get(k) || ""));
    const missing = ["class name", "your name", "username", "password"].filter((_, i) => values[i].trim() === "");
    if (missing.length) {
      errorBox.textContent = "Please fill in: " + missing.join(", ") + ".";
      errorBox.hidden = false;
      return;
    }
    submit.disabled = true;
    submit.textContent = "Creating…";
    errorBox.hidden = true;
    try {
      await api.Setup(values[0], values[1], values[2], values[3]);
      await openConsole(api);
    } catch (err) {
      errorBox.textContent = message(err);
      errorBox.hidden = false;
      submit.disabled = false;
      submit.textContent = "Create the class";
    }
  });
}

async function openConsole(api) {
  show("tpl-opening");
  $("#opening-text").textContent = "Opening the console…";
  try {
    const url = await api.OpenConsole();
    window.location.replace(url);
  } catch (err) {
    const box = $("#opening-error");
    box.textContent = message(err);
    box.hidden = false;
  }
}

// ---- client mode: classes found on the LAN, or a typed URL ---------------

function join(api) {
  show("tpl-join");
  const list = $("#classes");
  const status = $("#join-status");
  const statusText = $("#join-status-text");
  const errorBox = $("#join-error");
  const urlInput = $("#url");
  let rendered = "";

  async function open(raw) {
    errorBox.hidden = true;
    try {
      const url = await api.Open(raw);
      window.location.href = url;
    } catch (err) {
      errorBox.textContent = message(err);
      errorBox.hidden = false;
    }
  }

  $("#url-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    open(urlInput.value);
  });

  function render(st) {
    const key = JSON.stringify(st.classes);
    if (key !== rendered) {
      rendered = key;
      list.replaceChildren(...st.classes.map((c) => {
        const li = document.createElement("li");
        const info = document.createElement("div");
        info.className = "info";
        const name = document.createElement("div");
        name.className = "name";
        name.textContent = c.name;
        const where = document.createElement("div");
        where.className = "where";
        where.textContent = [c.host, (c.addrs || []).join(", "), "port " + c.port].filter(Boolean).join(" · ");
        info.append(name, where);
        const btn = document.createElement("button");
        btn.type = "button";
        btn.className = "primary";
        btn.textContent = "Open";
        btn.disabled = !c.url || !c.compatible;
        btn.title = !c.compatible ? "This class needs a newer Team Chat" : c.url;
        btn.addEventListener("click", () => open(c.url));
        li.append(info, btn);
        return li;
      }));
    }
    const n = st.classes.length;
    if (st.error) {
      status.classList.add("done");
      statusText.textContent = st.error;
    } else if (n > 0) {
      status.classList.add("done");
      statusText.textContent = n === 1 ? "1 class found on this network." : n + " classes found on this network.";
    } else if (st.searching) {
      status.classList.remove("done");
      statusText.textContent = "Looking for classes on this network…";
    } else {
      status.classList.remove("done");
      statusText.textContent = "No class found on this network yet (some Wi-Fi networks block discovery). Still looking — or type the address your professor shows.";
    }
  }

  async function poll() {
    try {
      render(await api.State());
    } catch (err) {
      errorBox.textContent = message(err);
      errorBox.hidden = false;
    }
    setTimeout(poll, 1000);
  }
  return api.State().then((st) => {
    if (st.open) {
      show("tpl-opening");
      $("#opening-text").textContent = "Opening " + st.open + "…";
      window.location.href = st.open;
      return;
    }
    render(st);
    setTimeout(poll, 1000);
  });
}

bindings()
  .then((go) => (go.Host ? host(go.Host) : join(go.Join)))
  .catch((err) => {
    show("tpl-opening");
    const box = $("#opening-error");
    box.textContent = message(err);
    box.hidden = false;
  });
