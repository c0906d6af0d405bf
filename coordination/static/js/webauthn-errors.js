// Shows what went wrong with a passkey or security key (the person cancelled, the key is
// not registered here, the browser has no WebAuthn) on the page, in the error box
// beside the button, instead of only in the browser's console, where allauth's
// webauthn.js puts it by default. A static file: the Content Security Policy allows no
// inline script.
(function () {
  document.addEventListener('allauth.error', function (event) {
    const box = document.getElementById('webauthn-error')
    if (!box) {
      return
    }
    event.preventDefault()
    const error = event.detail && event.detail.exception
    const cancelled = error && (error.name === 'NotAllowedError' || error.name === 'AbortError')
    box.textContent = cancelled
      ? 'The passkey or security key was not used (cancelled or timed out). Try again.'
      : 'Your browser could not use a passkey or security key here' +
        (error && error.message ? ': ' + error.message : '.')
    box.hidden = false
  })
})()
