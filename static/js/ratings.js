// Rating and shelf forms submit in place when JavaScript is available; without it they are plain POST forms.
(function () {
  "use strict";

  function updateControls(data) {
    document.querySelectorAll('[data-book-actions="' + data.book + '"]').forEach(function (box) {
      box.querySelectorAll(".star-form button[name=value], .star-menu button[name=value]").forEach(function (button) {
        const stars = Number(button.value);
        button.classList.toggle("on", data.rating !== null && stars <= data.rating);
        button.setAttribute("aria-pressed", data.rating === stars ? "true" : "false");
      });
      const label = box.querySelector("[data-rating-label]");
      if (label) showRatingLabel(label, data.rating);
      const clear = box.querySelector("[data-clear-rating]");
      if (clear) clear.hidden = data.rating === null;
      // The shelf buttons mirror the server's rendering (templates/includes/book_actions.html).
      box.querySelectorAll(".shelf-button[data-shelf]").forEach(function (button) {
        const shelf = button.dataset.shelf;
        const label = button.textContent.replace(/^[✓+]\s*/, "");
        const current = data.shelf === shelf;
        // A rated book has been read: it is never offered Want to read (as on the server).
        button.hidden = shelf === "to-read" && data.rating !== null;
        button.setAttribute("aria-pressed", current ? "true" : "false");
        if (current) {
          button.value = shelf === "read" && data.rating !== null ? "read" : "none";
          button.textContent = "✓ " + label;
        } else {
          button.value = shelf;
          button.textContent = (!data.shelf && shelf === "to-read" ? "+ " : "") + label;
        }
      });
      const status = box.querySelector("[data-action-status]");
      if (status) { status.textContent = data.message || ""; status.classList.add("visually-hidden"); }
    });
    const progress = document.querySelector("[data-onboarding]");
    if (progress && typeof data.rated_count === "number") {
      const needed = Number(progress.dataset.needed);
      // The counter stops at the goal: "5 of 5 rated", never "7 of 5".
      progress.querySelector("[data-rated-count]").textContent = Math.min(data.rated_count, needed);
      progress.querySelector("progress").value = Math.min(data.rated_count, needed);
      progress.querySelector("[data-continue]").hidden = data.rated_count < needed;
    }
  }

  // A card's "Rate it" / "Your rating ★★★★☆" summary (see templates/includes/card_rating.html).
  function showRatingLabel(label, rating) {
    label.textContent = "";
    if (rating === null) { label.textContent = "Rate it"; return; }
    label.append("Your rating ");
    const stars = document.createElement("span");
    stars.className = "stars";
    stars.setAttribute("aria-hidden", "true");
    stars.textContent = "★".repeat(rating) + "☆".repeat(5 - rating);
    const spoken = document.createElement("span");
    spoken.className = "visually-hidden";
    spoken.textContent = ": " + rating + (rating === 1 ? " star" : " stars");
    label.append(stars, spoken);
  }

  // Once rated, a card's menu closes and focus goes back to its summary, so keyboard users stay put.
  function closeCardMenu(form) {
    const menu = form.closest("details.card-rate");
    if (!menu) return;
    menu.open = false;
    menu.querySelector("summary").focus();
  }

  function submitInPlace(event) {
    const form = event.target;
    if (!form.matches("[data-rate-form], [data-shelf-form]") || !window.fetch) return;
    event.preventDefault();
    const body = new FormData(form);
    const submitter = event.submitter;
    if (submitter && submitter.name) body.append(submitter.name, submitter.value);
    form.setAttribute("aria-busy", "true");
    // getAttribute: a control named "action" would shadow form.action (the first shelf forms had one).
    fetch(form.getAttribute("action"), {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    })
      .then(function (response) {
        if (response.status === 403) {
          // Signed out in another tab: log in again and come back here.
          window.location.assign(form.dataset.loginUrl + "?next=" + encodeURIComponent(window.location.pathname + window.location.search));
          return null;
        }
        return response.json().catch(function () { return {}; }).then(function (data) {
          if (!response.ok || data.book === undefined) throw new Error(data.error || "Something went wrong. Try again.");
          return data;
        });
      })
      .then(function (data) { if (data) { updateControls(data); closeCardMenu(form); } })
      .catch(function (error) {
        const status = form.closest("[data-book-actions]").querySelector("[data-action-status]");
        if (status) {
          status.textContent = error.message === "Failed to fetch" ? "Could not reach BookRec. Try again." : error.message;
          status.classList.remove("visually-hidden");
        }
      })
      .finally(function () { form.removeAttribute("aria-busy"); });
  }

  document.addEventListener("submit", submitInPlace);
  // Escape closes an open card menu.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    const menu = event.target.closest && event.target.closest("details.card-rate[open]");
    if (menu) { menu.open = false; menu.querySelector("summary").focus(); }
  });
})();
