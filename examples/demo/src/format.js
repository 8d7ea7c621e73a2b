// Money formatting helpers for the demo shop.
export function formatPrice(cents, currency = 'EUR') {
  return new Intl.NumberFormat('en-GB', { style: 'currency', currency }).format(cents / 100);
}

export function formatPriceRange(minCents, maxCents, currency = 'EUR') {
  return `${formatPrice(minCents, currency)} – ${formatPrice(maxCents, currency)}`;
}
