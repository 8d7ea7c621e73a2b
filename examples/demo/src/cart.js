import { formatPrice } from './format.js';

export function cartSummary(items) {
  const total = items.reduce((sum, item) => sum + item.cents * item.quantity, 0);
  const lines = items.map((item) => `${item.quantity} × ${item.name}: ${formatPrice(item.cents * item.quantity)}`);
  // TODO: show discounts once the pricing service supports them
  return [...lines, `Total: ${formatPrice(total)}`].join('\n');
}
