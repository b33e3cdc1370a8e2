import axios from 'axios';

/** Milestone codes the ERP sandbox recorded for a delivery, in order, as `CODE#attempt`. */
export async function erpMilestones(erpUrl: string, deliveryId: string): Promise<string[]> {
  const res = await axios.get<{ milestones: { milestone: string; attempt: number }[] }>(
    `${erpUrl}/__sandbox/deliveries/${deliveryId}/milestones`,
  );
  return res.data.milestones.map((m) => `${m.milestone}#${Number(m.attempt)}`);
}

/** Billing requests the ERP sandbox holds for a delivery. */
export async function erpBilling(erpUrl: string, deliveryId: string) {
  const res = await axios.get<{
    billingRequests: {
      deliveryId: string;
      total: string | number;
      approvedBy?: string;
      secondApprovedBy?: string;
      items: { chargeCode: string; amount: string | number }[];
    }[];
  }>(`${erpUrl}/__sandbox/billing`);
  return res.data.billingRequests.filter((b) => b.deliveryId === deliveryId);
}

/** Effects a sandbox performed more than once (a duplicate effect). */
export async function duplicateEffects(url: string): Promise<unknown[]> {
  const res = await axios.get<{ effects: { count: number }[] }>(`${url}/__sandbox/effects`);
  return res.data.effects.filter((e) => e.count > 1);
}

/** CRM cases of a shipment, with kind and status. */
export async function crmCases(crmUrl: string, shipmentId: string) {
  const res = await axios.get<{ cases: { ticketId: number; kind: string | null; status: string }[] }>(
    `${crmUrl}/__sandbox/cases`,
    {
      params: { external_id: shipmentId },
    },
  );
  return res.data.cases;
}

/** The comments on a CRM sandbox ticket, through the Zendesk Ticket Comments API. */
export async function ticketComments(crmUrl: string, ticketId: number) {
  const res = await axios.get<{ comments: { body: string; public: boolean }[] }>(
    `${crmUrl}/api/v2/tickets/${ticketId}/comments.json`,
    { auth: { username: 'agent@sandbox.zendesk.test/token', password: 'sandbox' } },
  );
  return res.data.comments;
}

/** Customer notices the CRM recorded for a shipment. */
export async function crmNotices(crmUrl: string, shipmentId: string) {
  const res = await axios.get<{ notifications: { body: string; plan?: unknown }[] }>(
    `${crmUrl}/__sandbox/notifications`,
    {
      params: { external_id: shipmentId },
    },
  );
  return res.data.notifications;
}

/** Sets the ERP sandbox's business rules (milestone codes it refuses, a billing block); returns them. */
export async function setErpRules(
  erpUrl: string,
  rules: { rejectMilestoneCodes?: string[]; billingBlockReason?: string | null },
) {
  const res = await axios.post<{ rejectMilestoneCodes: string[]; billingBlockReason?: string }>(
    `${erpUrl}/__sandbox/business-rules`,
    rules,
  );
  return res.data;
}
