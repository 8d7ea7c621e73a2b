import { formatPrice } from './format.js';

export function invoiceLine(order) {
  return `${order.id}  ${order.customer.padEnd(20)}  ${formatPrice(order.cents)}`;
}
