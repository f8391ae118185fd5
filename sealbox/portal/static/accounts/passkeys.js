// Passkeys: creating one (in Settings, or instead of a password behind an
// activation or reset link), and using one at sign-in (alone, or as the second
// step) or to confirm it is you in Settings. The server
// sends WebAuthn options as JSON (binary fields in base64url); the browser's
// navigator.credentials does the rest; the answer goes back in an ordinary
// form post, so the server's response is an ordinary page.
(function () {
  "use strict";

  function toBytes(b64url) {
    var b64 = b64url.replace(/-/g, "+").replace(/_/g, "/");
    var raw = atob(b64 + "===".slice((b64.length + 3) % 4));
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    return bytes.buffer;
  }

  function toB64url(buffer) {
    var bytes = new Uint8Array(buffer);
    var raw = "";
    for (var i = 0; i < bytes.length; i++) raw += String.fromCharCode(bytes[i]);
    return btoa(raw).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function descriptors(list) {
    return (list || []).map(function (d) {
      return { type: d.type, id: toBytes(d.id), transports: d.transports };
    });
  }

  // The browser's credential as JSON, binary fields in base64url, as py_webauthn reads it.
  function answer(c, response) {
    response.clientDataJSON = toB64url(c.response.clientDataJSON);
    return JSON.stringify({
      id: c.id,
      rawId: toB64url(c.rawId),
      type: c.type,
      authenticatorAttachment: c.authenticatorAttachment || undefined,
      clientExtensionResults: c.getClientExtensionResults ? c.getClientExtensionResults() : {},
      response: response
    });
  }

  function options(form, url) {
    var token = form.querySelector("input[name=csrfmiddlewaretoken]").value;
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": token, "Accept": "application/json" }
    }).then(function (response) {
      if (!response.ok) throw new Error("options " + response.status);
      return response.json();
    });
  }

  function fail(form, error) {
    var note = form.querySelector("[data-passkey-error]");
    if (note) note.hidden = false;
    if (window.console) console.warn("passkey:", error);
  }

  function supported(form) {
    if (window.PublicKeyCredential && navigator.credentials) return true;
    var note = form.querySelector("[data-passkey-unsupported]") || form.querySelector("[data-passkey-error]");
    if (note) note.hidden = false;
    return false;
  }

  // Offers that only make sense with WebAuthn ("Sign in with a passkey", "Use a
  // passkey instead of a password") come hidden, and show where the browser has it.
  // What stands in for them without it (no script, or no WebAuthn) goes away.
  if (window.PublicKeyCredential && navigator.credentials) {
    document.querySelectorAll("[data-passkey-supported]").forEach(function (el) {
      el.hidden = false;
    });
    document.querySelectorAll("[data-passkey-missing]").forEach(function (el) {
      el.hidden = true;
    });
  }

  // Create a passkey: in Settings, or instead of a password.
  document.querySelectorAll("form[data-passkey-create]").forEach(function (form) {
    var credential = form.elements.namedItem("credential");
    form.addEventListener("submit", function (event) {
      if (credential.value) return;
      event.preventDefault();
      if (!supported(form) || !form.reportValidity()) return;
      options(form, form.dataset.passkeyCreate).then(function (o) {
        return navigator.credentials.create({ publicKey: {
          rp: o.rp,
          user: { id: toBytes(o.user.id), name: o.user.name, displayName: o.user.displayName },
          challenge: toBytes(o.challenge),
          pubKeyCredParams: o.pubKeyCredParams,
          timeout: o.timeout,
          excludeCredentials: descriptors(o.excludeCredentials),
          authenticatorSelection: o.authenticatorSelection,
          attestation: o.attestation
        } });
      }).then(function (c) {
        var r = c.response;
        credential.value = answer(c, {
          attestationObject: toB64url(r.attestationObject),
          transports: r.getTransports ? r.getTransports() : []
        });
        form.submit();
      }).catch(function (error) { fail(form, error); });
    });
  });

  // Use a passkey: to sign in (with no address, the list of credentials is
  // empty and the authenticator offers its own), as the second step, or to confirm.
  document.querySelectorAll("form[data-passkey-get]").forEach(function (form) {
    var credential = form.elements.namedItem("credential");
    var start = form.querySelector("[data-passkey-start]");
    start.addEventListener("click", function () {
      if (!supported(form)) return;
      start.disabled = true;
      options(form, form.dataset.passkeyGet).then(function (o) {
        return navigator.credentials.get({ publicKey: {
          challenge: toBytes(o.challenge),
          timeout: o.timeout,
          rpId: o.rpId,
          allowCredentials: descriptors(o.allowCredentials),
          userVerification: o.userVerification
        } });
      }).then(function (c) {
        var r = c.response;
        credential.value = answer(c, {
          authenticatorData: toB64url(r.authenticatorData),
          signature: toB64url(r.signature),
          userHandle: r.userHandle ? toB64url(r.userHandle) : undefined
        });
        form.submit();
      }).catch(function (error) {
        start.disabled = false;
        fail(form, error);
      });
    });
  });
})();
