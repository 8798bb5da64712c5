/*! Codes claim widget __VERSION__. No dependencies. Use:
 *  <div data-codes-claim data-public-key="pk_..." data-api="https://codes.example"></div>
 *  <script src="https://codes.example/widget.js" defer></script>
 * Optional: data-code (prefilled code; else ?code= of the page), data-redirect (after a claim, go
 * there with ?claim_token=...). On a claim the div dispatches "codes:claimed" with detail
 * {token, code, email, claimedAt}; preventDefault() cancels the redirect. Colours: --codes-* CSS
 * variables. Anything inside the div is replaced, so put a fallback link there. */
(function () {
  "use strict";
  var VERSION = "__VERSION__";
  var TEXT = __MESSAGES__;
  var script = document.currentScript;
  var home = script && script.src ? new URL(script.src, location.href).origin : location.origin;
  var count = 0;
  var CSS =
    ".codes-claim{color:var(--codes-text,#1f2937);background:var(--codes-background,transparent);" +
    "font:inherit;line-height:1.5;max-width:28rem}" +
    ".codes-claim *{box-sizing:border-box}" +
    ".codes-claim form{margin:0}" +
    ".codes-claim__field{margin:0 0 1rem}" +
    ".codes-claim label{display:block;font-weight:600;margin:0 0 .25rem}" +
    ".codes-claim input{display:block;width:100%;margin:0;font:inherit;font-size:max(1rem,16px);" +
    "padding:.55rem .7rem;color:var(--codes-input-text,#111827);background:var(--codes-input-background,#fff);" +
    "border:2px solid var(--codes-border,#6b7280);border-radius:var(--codes-radius,.375rem)}" +
    ".codes-claim input[aria-invalid=true]{border-color:var(--codes-error,#b91c1c)}" +
    ".codes-claim button{font:inherit;font-weight:600;min-height:2.75rem;padding:.55rem 1.25rem;border:0;" +
    "cursor:pointer;color:var(--codes-accent-text,#fff);background:var(--codes-accent,#1d4ed8);" +
    "border-radius:var(--codes-radius,.375rem)}" +
    ".codes-claim :focus-visible{outline:3px solid var(--codes-focus,#1d4ed8);outline-offset:2px}" +
    ".codes-claim__error,.codes-claim__alert{color:var(--codes-error,#b91c1c);margin:.25rem 0 0}" +
    ".codes-claim__alert:not(:empty){margin:1rem 0 0;font-weight:600}" +
    ".codes-claim__status:not(:empty){margin:1rem 0 0;font-weight:600;color:var(--codes-success,#15803d)}" +
    ".codes-claim [hidden]{display:none!important}";

  function element(tag, attributes, children) {
    var node = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (name) {
      node.setAttribute(name, attributes[name]);
    });
    (children || []).forEach(function (child) {
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  function addStyle() {
    if (document.getElementById("codes-claim-style")) return;
    var style = element("style", { id: "codes-claim-style" }, [CSS]);
    (document.head || document.documentElement).appendChild(style);
  }

  function waitPhrase(seconds) {
    if (!(seconds > 0)) return "a minute";
    if (seconds < 60) return seconds + (seconds === 1 ? " second" : " seconds");
    var minutes = Math.ceil(seconds / 60);
    return minutes === 1 ? "a minute" : minutes + " minutes";
  }

  function safeRedirect(value) {
    if (!value) return null;
    try {
      var url = new URL(value, location.href);
      return url.protocol === "https:" || url.protocol === "http:" ? url : null;
    } catch (error) {
      return null;
    }
  }

  function mount(root) {
    if (root.codesClaim) return root.codesClaim;
    addStyle();
    var id = "codes-claim-" + ++count;
    var key = root.getAttribute("data-public-key") || "";
    var api = (root.getAttribute("data-api") || home).replace(/\/+$/, "");
    var prefill = root.getAttribute("data-code") || new URLSearchParams(location.search).get("code") || "";

    function field(name, label, attributes) {
      var input = element("input", Object.assign({ id: id + "-" + name, name: name, required: "" }, attributes));
      var error = element("p", { id: id + "-" + name + "-error", class: "codes-claim__error", hidden: "" });
      var box = element("div", { class: "codes-claim__field" }, [
        element("label", { for: input.id }, [label]),
        input,
        error,
      ]);
      return { box: box, input: input, error: error };
    }

    var code = field("code", "Code", { type: "text", autocomplete: "off", autocapitalize: "none", spellcheck: "false" });
    var email = field("email", "Email address", {
      type: "email",
      autocomplete: "email",
      inputmode: "email",
      autocapitalize: "none",
      spellcheck: "false",
    });
    code.input.value = prefill.slice(0, 200);
    var button = element("button", { type: "submit" }, ["Claim code"]);
    var form = element("form", { novalidate: "", "aria-label": "Claim a code" }, [code.box, email.box, button]);
    var alert = element("p", { class: "codes-claim__alert", role: "alert" });
    var status = element("p", { class: "codes-claim__status", role: "status", tabindex: "-1" });
    root.classList.add("codes-claim");
    root.replaceChildren(form, alert, status);

    function showFieldError(part, message) {
      part.error.textContent = message ? "Error: " + message : "";
      part.error.hidden = !message;
      if (message) {
        part.input.setAttribute("aria-invalid", "true");
        part.input.setAttribute("aria-describedby", part.error.id);
      } else {
        part.input.removeAttribute("aria-invalid");
        part.input.removeAttribute("aria-describedby");
      }
    }

    function clear() {
      showFieldError(code, "");
      showFieldError(email, "");
      alert.textContent = "";
      status.textContent = "";
    }

    function fieldErrors(errors, values) {
      var first = null;
      [["code", code], ["email", email]].forEach(function (pair) {
        if (!errors[pair[0]]) return;
        var kind = values[pair[0]] ? "invalid" : "missing";
        showFieldError(pair[1], TEXT.fields[pair[0]][kind]);
        first = first || pair[1].input;
      });
      if (first) first.focus();
      return !!first;
    }

    function succeed(data) {
      var detail = { token: data.token, code: data.code.code, email: data.email, claimedAt: data.claimedAt };
      form.hidden = true;
      status.textContent = TEXT.success;
      status.focus();
      var event = new CustomEvent("codes:claimed", { bubbles: true, cancelable: true, detail: detail });
      var redirect = safeRedirect(root.getAttribute("data-redirect"));
      if (root.dispatchEvent(event) && redirect) {
        redirect.searchParams.set("claim_token", data.token);
        location.assign(redirect.href);
      }
    }

    function refuse(response, body) {
      if (response.status === 422 && body && body.errors && fieldErrors(body.errors, values())) return;
      var error = body && body.error;
      var message = TEXT.refusals[error];
      if (error === "rate_limited") {
        var wait = parseInt(response.headers.get("Retry-After"), 10);
        message = TEXT.refusals.rate_limited.replace("{wait}", waitPhrase(wait));
      } else if (!message && (response.status === 401 || response.status === 403)) {
        console.error("codes widget: the public key was refused; check data-public-key.");
        message = TEXT.refusals.not_set_up;
      }
      alert.textContent = message || TEXT.refusals.unexpected;
    }

    function values() {
      return { code: code.input.value.trim(), email: email.input.value.trim() };
    }

    var busy = false;
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (busy) return;
      clear();
      var claim = values();
      var missing = { code: !claim.code, email: !claim.email };
      if (fieldErrors(missing, claim)) return;
      busy = true;
      button.textContent = "Claiming…";
      fetch(api + "/codes/claim", {
        method: "POST",
        mode: "cors",
        credentials: "omit",
        headers: { Authorization: "Bearer " + key, "Content-Type": "application/json" },
        body: JSON.stringify(claim),
      })
        .then(
          function (response) {
            return response.json().then(
              function (body) {
                if (response.ok && body.success) succeed(body.data);
                else refuse(response, body);
              },
              function () {
                refuse(response, null);
              }
            );
          },
          function () {
            console.warn(
              "codes widget: the claim did not reach " + api + ". Is this page's origin allowed " +
                "(flask --app wsgi projects set-origins)?"
            );
            alert.textContent = TEXT.refusals.network;
          }
        )
        .then(function () {
          busy = false;
          button.textContent = "Claim code";
        });
    });

    root.codesClaim = { root: root, form: form };
    return root.codesClaim;
  }

  function mountAll() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-codes-claim]"), mount);
  }

  window.CodesClaim = { version: VERSION, mount: mount, mountAll: mountAll };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", mountAll);
  else mountAll();
})();
