// The receipt page: a button that saves the signed receipt as a file, exactly the text the
// page holds (the textarea beside it, which also lets it be copied without this script).
"use strict";
(() => {
  for (const place of document.querySelectorAll("[data-save-receipt]")) {
    const source = document.getElementById(place.dataset.saveReceipt);
    if (!source) continue;
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = place.dataset.label || "Save";
    button.addEventListener("click", () => {
      const url = URL.createObjectURL(new Blob([source.defaultValue], { type: "application/json" }));
      const link = document.createElement("a");
      link.href = url;
      link.download = place.dataset.filename || "signed-receipt.json";
      document.body.append(link);
      link.click();
      link.remove();
      // Long enough for the download to have begun.
      setTimeout(() => URL.revokeObjectURL(url), 60000);
      if (place.dataset.saved) button.textContent = place.dataset.saved;
    });
    place.append(button);
  }
})();
