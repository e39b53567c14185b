// Lead entry: a ledger file over the import's size limit is refused before it is sent
// (the server refuses it too, after the upload).
"use strict";
(() => {
  for (const input of document.querySelectorAll('input[type="file"][data-max-bytes]')) {
    const limit = Number(input.dataset.maxBytes);
    input.addEventListener("change", () => {
      const file = input.files && input.files[0];
      input.setCustomValidity(file && file.size > limit ? input.dataset.tooLarge || "" : "");
      input.reportValidity();
    });
  }
})();
