// Checks a NIR's format and key as it is typed; the server checks again.
const nir = document.getElementById('nir');
if (nir) nir.addEventListener('input', () => {
  const help = document.getElementById('nir-aide');
  const v = nir.value.replace(/[\s.-]/g, '').toUpperCase();
  let problem = '';
  if (v.length >= 15 && !/^[1-478][0-9]{4}(2A|2B|[0-9]{2})[0-9]{8}$/.test(v)) {
    problem = 'Format attendu : 13 caractères et une clé de 2 chiffres';
  } else if (v.length === 15) {
    // Corsica's departments 2A and 2B count as 19 and 18 for the key.
    const dep = {'2A': '19', '2B': '18'}[v.slice(5, 7)] || v.slice(5, 7);
    const body = BigInt(v.slice(0, 5) + dep + v.slice(7, 13));
    const key = 97n - body % 97n;
    if (key !== BigInt(v.slice(13))) {
      problem = 'Clé incorrecte : la clé de ce numéro est ' + String(key).padStart(2, '0');
    }
  }
  nir.setAttribute('aria-invalid', problem ? 'true' : 'false');
  help.textContent = problem || '13 chiffres et la clé, espaces permis';
});
