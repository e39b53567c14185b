// Files chosen on a public form: their total is checked before sending. A body over the
// page's limit is refused whole by the server before it is read, report included, so the
// form is not sent with more than that; the reporter is told to send the rest later.
// Without this script the server still refuses such a body, with the limit named.
"use strict";
(() => {
  for (const input of document.querySelectorAll("input[type=file][data-max-bytes]")) {
    const status = document.getElementById(`${input.id}-total`);
    const limit = Number(input.dataset.maxBytes);
    input.addEventListener("change", () => {
      let total = 0;
      for (const file of input.files) total += file.size;
      const over = total > limit;
      input.setCustomValidity(over ? input.dataset.tooMuch : "");
      if (status) {
        status.textContent = over ? input.dataset.tooMuch : "";
        status.hidden = !over;
      }
    });
  }
})();
