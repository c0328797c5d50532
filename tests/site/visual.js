const params = new URLSearchParams(location.search);
if (params.get("change") === "1") {
  const bar = document.createElement("div");
  bar.id = "changed";
  document.body.append(bar);
}
if (params.has("clock")) document.getElementById("clock").textContent = params.get("clock");
if (params.get("shift") === "1") document.body.classList.add("shift");
