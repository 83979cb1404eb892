# Procurify purchase order (the "ordered items" trigger) -> PeopleSoft purchase
# order (CI PO_EXPRESS). An alternative to requisitions-to-purchase-orders for
# sites that buy in Procurify first; enable one of the two.
#
# Input: a `purchase_orders` document of the Procurify connector
#   {id, number, state, vendor{id, ...}, currency{code}, date, promise_date, lines: [...]}.
# Output: a PeopleSoft PO keyed by PO_REF = the Procurify PO number.
# Crosswalks fed: ps_po[PO_REF] = PO_ID, procurify_po[PO_REF] = Procurify PO id.
def unit_of_measure: (($config.units // {})[.] // (. // "EA" | ascii_upcase | .[0:3]));
def day: if . == null then null else .[0:10] end;

. as $po
| if $po.state == 1 then {key: $po.number, skip: "purchase order \($po.number) is cancelled in Procurify"}
  elif ($po.lines // []) == [] then error("purchase order \($po.number) has no lines")
  else {
    key: $po.number,
    body: {
      po_ref: $po.number,
      business_unit: $config.business_unit,
      vendor_setid: $config.setid,
      vendor_id: xref("vendor"; ($po.vendor.id // park("purchase order \($po.number) has no vendor"))),
      po_date: ($po.date | day),
      buyer_id: $config.buyer_id,
      currency: $po.currency.code,
      lines: [
        $po.lines | to_entries[] | .key as $i | .value as $line
        | ($line.department // park("line \($line.id) of \($po.number) has no cost center (department)")) as $dept
        | {
            line_nbr: ($i + 1),
            description: ($line.name | .[0:254]),
            unit_of_measure: ($line.unit | unit_of_measure),
            inv_item_id: null,
            category_id: null,
            schedules: [{
              sched_nbr: 1,
              quantity: $line.quantity,
              price: $line.unit_price,
              due_date: ($po.promise_date | day),
              shipto_id: null,
              distributions: [{
                distrib_line_num: 1,
                quantity: $line.quantity,
                account: xref("account"; ($line.account.code // park("line \($line.id) of \($po.number) has no account code"))),
                deptid: xref("department"; $dept.id),
                business_unit_gl: $config.business_unit
              }]
            }]
          }
      ]
    },
    xref: [{table: "ps_po", key: $po.number},
           {table: "procurify_po", key: $po.number, value: ($po.id | tostring)}]
  }
  end
