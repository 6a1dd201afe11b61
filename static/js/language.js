// The language switcher (templates/_language.html): choosing a language submits its form.
// A static file rather than an inline onchange="…": the Content-Security-Policy (ops.csp)
// runs no inline script. Without JavaScript the form's own button does the same.
(function () {
  "use strict";
  var select = document.getElementById("language-select");
  if (select && select.form) {
    select.addEventListener("change", function () {
      select.form.submit();
    });
  }
})();
