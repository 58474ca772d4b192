// A static script served by the verdict cases.
export const shop = { name: 'verdict cases', currency: 'EUR' };
