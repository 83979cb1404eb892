# PeopleSoft department (ChartField DEPTID, the cost center) -> Procurify
# department. The Procurify connector matches an existing department by
# external_id before creating one.
#
# Input: a `departments` document of the PeopleSoft connector
#   {setid, deptid, descr, effdt, eff_status, last_modified}.
# Crosswalks fed:
#   ps_department[DEPTID] = DEPTID          (PeopleSoft has this value)
#   department[<procurify id>] = DEPTID     (once Procurify answers with its id)
if .eff_status != "A" then
  {key: .deptid, skip: "department \(.deptid) is inactive in PeopleSoft"}
elif xref_rev("department"; .deptid) then
  {key: .deptid, link: xref_rev("department"; .deptid),
   xref: {table: "ps_department", key: .deptid, value: .deptid}}
else
  {key: .deptid,
   body: {name: .descr, external_id: .deptid, active: true},
   xref: [{table: "department", value: .deptid},
          {table: "ps_department", key: .deptid, value: .deptid}]}
end
