// The panel's page behaviours, from a file: the content security policy runs no inline handler.
// A form with data-confirm asks before it is sent (deletions).
document.addEventListener("submit", function (event) {
  var question = event.target.getAttribute && event.target.getAttribute("data-confirm");
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});
// A refused form's error summary takes the focus, so a screen reader reads it first.
document.addEventListener("DOMContentLoaded", function () {
  var summary = document.querySelector("#error-summary, [data-error-summary]");
  if (summary) {
    summary.focus();
  }
});
